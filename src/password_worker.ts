/**
 * The body of one hashing Worker: runs `scryptSync` for {@link ./password_worker_pool.ts} on its
 * own thread and answers each job with a message. Started with
 * `new Worker(new URL("./password_worker.ts", import.meta.url), { type: "module" })`; never
 * imported for its code (the pool imports only its types).
 *
 * Why synchronous scrypt on a Worker rather than the async `scrypt` of `node:crypto`: the reply is
 * a `postMessage`, and the Worker can be terminated if it never comes (see the pool's module doc).
 * Blocking this thread is the point: it has nothing else to do.
 *
 * Protocol: the Worker posts `ready` once its module has run, then one `done` or `failed` per
 * job, in order. After `idleMs` without a job it posts `idle`: only the host may end a Worker, so
 * a job sent just before that message still runs, and no job is ever lost to a Worker closing
 * itself.
 *
 * @module
 */
import { scryptSync } from "node:crypto";

/** One derivation: the password, the salt and the scrypt parameters (already checked). */
export interface ScryptRequest {
  /** The password, exactly as received (UTF-8 encoded by scrypt). */
  password: string;
  /** The salt bytes. */
  salt: Uint8Array;
  /** scrypt cost (power of two). */
  N: number;
  /** scrypt block size. */
  r: number;
  /** scrypt parallelism. */
  p: number;
  /** Derived key length in bytes. */
  keyLength: number;
}

/** One derivation, as sent to the Worker. Parameters were checked by the host. */
export interface HashJob extends ScryptRequest {
  /** Matches the reply to its job. */
  id: number;
  /** `maxmem` for scrypt: the per-hash memory cap. */
  maxmem: number;
  /** How long to wait for the next job before offering to stop. */
  idleMs: number;
}

/** A message from the Worker to the host. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "done"; id: number; key: Uint8Array }
  | { type: "failed"; id: number; message: string }
  | { type: "idle" };

const scope = globalThis as unknown as {
  postMessage(message: WorkerReply): void;
  onmessage: ((event: MessageEvent<HashJob>) => void) | null;
};

let idleTimer: ReturnType<typeof setTimeout> | undefined;

function runJob(job: HashJob): void {
  clearTimeout(idleTimer);
  let reply: WorkerReply;
  try {
    const { N, r, p, maxmem } = job;
    const key = scryptSync(job.password, job.salt, job.keyLength, { N, r, p, maxmem });
    reply = { type: "done", id: job.id, key: new Uint8Array(key) };
  } catch (error) {
    // scrypt's own messages (memory limit, bad parameters) never contain the password.
    reply = { type: "failed", id: job.id, message: error instanceof Error ? error.message : "" };
  }
  scope.postMessage(reply);
  idleTimer = setTimeout(() => scope.postMessage({ type: "idle" }), job.idleMs);
}

// Only inside a Worker: imported anywhere else (a tool that loads every module), it does nothing.
if (typeof scope.postMessage === "function") {
  scope.onmessage = ({ data }) => runJob(data);
  scope.postMessage({ type: "ready" });
}
