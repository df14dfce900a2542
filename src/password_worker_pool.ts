/**
 * Runs scrypt derivations on long-lived Workers ({@link ./password_worker.ts}), one job per Worker
 * at a time. {@link ./passwords.ts} puts its limiter in front, so there are never more Workers
 * busy than hashing slots.
 *
 * Why Workers and not the async `scrypt` of `node:crypto` (issue 17): twice in the test suite an
 * async scrypt callback arrived only when an unrelated timer (the limiter's 60 s wait limit) fired,
 * long after the hash had finished on its thread; in production that turns a sign-in into a 503
 * after 3 s, or holds a slot for a minute. It could not be reproduced on demand
 * (`tests/_hash_stall_repro.ts`), and whatever its cause that design could not recover: a
 * derivation on the runtime's thread pool can be neither observed nor cancelled. Here:
 *
 * - the result comes back as a message from a Worker, not through the thread-pool completion that
 *   was seen to stall;
 * - every job has a deadline (`timeoutMs`): past it the Worker is terminated, the job rejected
 *   with an error and the slot freed, so no failure mode of any runtime can hold a slot forever
 *   (native code cannot be interrupted: a Worker stopped inside scrypt ends when that call
 *   returns, so its memory may outlive the slot by that long);
 * - a Worker that crashes (an uncaught error, a message that cannot be read) rejects its job with
 *   an error and is dropped; the next job starts a fresh one.
 *
 * Workers start on first use and stop after `idleMs` without work, asked by the Worker and decided
 * here, so a process that has finished hashing exits on its own; `close()` stops them at once.
 * Where Workers are unavailable (`new Worker` throws, as "Worker is not defined" on Deno Deploy,
 * or a Worker fails before it is ready, e.g. without read permission for its module), the pool says so once
 * through `warn` and hands every job to `fallback`, the in-thread async scrypt, so the app still
 * runs there.
 *
 * @module
 */
import type { HashJob, ScryptRequest, WorkerReply } from "./password_worker.ts";

export type { ScryptRequest } from "./password_worker.ts";

/** Settings of a {@linkcode ScryptWorkerPool}; all required, `passwords.ts` supplies them. */
export interface ScryptWorkerPoolOptions {
  /** Starts one Worker running `password_worker.ts` (or, in tests, a misbehaving stand-in). */
  createWorker: () => Worker;
  /** How long a Worker without work is kept before it is stopped, in ms. */
  idleMs: number;
  /** Longest a job may take, Worker start-up included, before its Worker is stopped, in ms. */
  timeoutMs: number;
  /** `maxmem` passed to scrypt: the per-hash memory cap. */
  maxmem: number;
  /** Derives on this thread instead; used once Workers are found to be unavailable. */
  fallback: (request: ScryptRequest) => Promise<Uint8Array>;
  /** Told once, in one line, when the pool falls back. */
  warn: (message: string) => void;
}

/** The URL of the Worker module, for {@linkcode ScryptWorkerPoolOptions.createWorker}. */
export const PASSWORD_WORKER_URL: URL = new URL("./password_worker.ts", import.meta.url);

/** Starts the real hashing Worker. */
export function startPasswordWorker(): Worker {
  return new Worker(PASSWORD_WORKER_URL, { type: "module" });
}

interface Job {
  id: number;
  request: ScryptRequest;
  resolve: (key: Uint8Array) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Member {
  worker: Worker;
  /** True once the Worker's module has run: a failure before that means Workers cannot work. */
  ready: boolean;
  job: Job | undefined;
}

/**
 * A set of hashing Workers, each doing one derivation at a time. It does not limit how many run:
 * the caller's limiter does, and the pool starts a Worker whenever none is free.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { ScryptWorkerPool, startPasswordWorker } from "./password_worker_pool.ts";
 *
 * const pool = new ScryptWorkerPool({
 *   createWorker: startPasswordWorker,
 *   idleMs: 1000,
 *   timeoutMs: 30_000,
 *   maxmem: 32 * 1024 * 1024,
 *   fallback: () => Promise.reject(new Error("no fallback here")),
 *   warn: console.warn,
 * });
 * try {
 *   const salt = new Uint8Array(16);
 *   const key = await pool.derive({ password: "pw", salt, N: 1024, r: 8, p: 1, keyLength: 32 });
 *   strictEqual(key.length, 32);
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class ScryptWorkerPool {
  readonly #options: ScryptWorkerPoolOptions;
  readonly #members = new Set<Member>();
  /** Free Workers, most recently used last: reusing the warmest lets the others go idle. */
  readonly #free: Member[] = [];
  #nextId = 1;
  #unavailable = false;
  #closed = false;

  /** Creates an empty pool; Workers start on the first {@linkcode derive}. */
  constructor(options: ScryptWorkerPoolOptions) {
    this.#options = { ...options };
  }

  /** Workers alive now, busy or free (for tests and metrics). */
  get size(): number {
    return this.#members.size;
  }

  /**
   * Derives the key on a free Worker, starting one if none is free.
   *
   * @throws {Error} when the Worker crashes or misses the deadline (the Worker is stopped), when
   * scrypt refuses the parameters, or after {@linkcode close}
   */
  derive(request: ScryptRequest): Promise<Uint8Array> {
    if (this.#closed) {
      return Promise.reject(new Error("Cannot hash password: the password hasher is closed"));
    }
    if (this.#unavailable) return this.#options.fallback(request);
    let member = this.#free.pop();
    if (member === undefined) {
      try {
        member = this.#start();
      } catch (error) {
        // No Worker at all (Deno Deploy: "Worker is not defined"), or not allowed to start one.
        this.#giveUp(error instanceof Error ? error.message : String(error));
        return this.#options.fallback(request);
      }
    }
    const chosen = member;
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const { idleMs, maxmem, timeoutMs } = this.#options;
      const message: HashJob = { id, ...request, maxmem, idleMs };
      try {
        chosen.worker.postMessage(message);
      } catch (error) {
        this.#discard(chosen);
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const timer = setTimeout(() => {
        this.#discard(chosen);
        reject(
          new Error(
            `Password hashing did not finish within ${timeoutMs} ms; its worker was stopped`,
          ),
        );
      }, timeoutMs);
      chosen.job = { id, request, resolve, reject, timer };
    });
  }

  /**
   * Stops every Worker now; jobs still running are rejected. Later {@linkcode derive} calls are
   * refused. Call it when the process shuts down, or let idle Workers stop by themselves.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const member of [...this.#members]) {
      const job = member.job;
      this.#discard(member);
      if (job !== undefined) {
        clearTimeout(job.timer);
        job.reject(new Error("Password hashing stopped: the password hasher was closed"));
      }
    }
    return Promise.resolve();
  }

  #start(): Member {
    const worker = this.#options.createWorker();
    const member: Member = { worker, ready: false, job: undefined };
    this.#members.add(member);
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#onReply(member, event.data);
    worker.onerror = (event: ErrorEvent) => {
      // Handled here: left alone, a Worker's error is rethrown in this thread and ends the process.
      event.preventDefault();
      this.#onCrash(member, event.message);
    };
    worker.onmessageerror = () => this.#onCrash(member, "its reply could not be read");
    return member;
  }

  #onReply(member: Member, reply: WorkerReply): void {
    if (!this.#members.has(member)) return;
    switch (reply.type) {
      case "ready":
        member.ready = true;
        return;
      case "idle":
        // A job sent after the Worker asked is still running: then it stays.
        if (member.job === undefined) this.#discard(member);
        return;
      case "done":
      case "failed": {
        const job = member.job;
        if (job === undefined || job.id !== reply.id) return;
        clearTimeout(job.timer);
        member.job = undefined;
        this.#free.push(member);
        if (reply.type === "done") job.resolve(reply.key);
        else job.reject(new Error(`Password hashing failed: ${reply.message}`));
        return;
      }
    }
  }

  #onCrash(member: Member, detail: string): void {
    if (!this.#members.has(member)) return;
    const job = member.job;
    this.#discard(member);
    if (job !== undefined) clearTimeout(job.timer);
    if (!member.ready) {
      // The Worker never ran its module (no read permission, module missing): Workers cannot
      // work in this process, and the job has not started, so the fallback takes it over.
      this.#giveUp(detail);
      if (job !== undefined) this.#options.fallback(job.request).then(job.resolve, job.reject);
      return;
    }
    job?.reject(new Error(`Password hashing failed: its worker stopped (${detail})`));
  }

  #giveUp(reason: string): void {
    if (this.#unavailable) return;
    this.#unavailable = true;
    this.#options.warn(
      `Password hashing runs on the main thread's async scrypt: cannot use a Worker (${reason})`,
    );
  }

  #discard(member: Member): void {
    this.#members.delete(member);
    const index = this.#free.indexOf(member);
    if (index !== -1) this.#free.splice(index, 1);
    member.worker.onmessage = null;
    member.worker.onerror = (event: ErrorEvent) => event.preventDefault();
    member.worker.onmessageerror = null;
    member.worker.terminate();
    member.job = undefined;
  }
}
