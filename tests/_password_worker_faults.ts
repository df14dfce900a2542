/**
 * A stand-in for `src/password_worker.ts` that misbehaves as its Worker `name` says, for the
 * tests of what the hasher does when a hashing Worker goes wrong:
 *
 * - `crash`: ready, then throws on the first job (as a Worker dying mid-hash would);
 * - `silent`: ready, then never answers (as a lost reply or a hung thread would);
 * - `broken`: throws before it is ready (as a Worker that cannot load its module would).
 *
 * @module
 */
const scope = globalThis as unknown as {
  name: string;
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
};

if (scope.name === "broken") throw new Error("stand-in Worker failed to start");
scope.onmessage = () => {
  if (scope.name === "crash") throw new Error("stand-in Worker crashed");
};
scope.postMessage({ type: "ready" });
