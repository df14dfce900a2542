/**
 * The address and permission flags of `deno task start`, `dev` and `user:add`, worked out from
 * the settings, because a task line cannot compute them: Deno's task shell has no `${PORT:-8000}`
 * and no `dirname`.
 *
 * Each task runs this script twice. First with `--check`, which validates every setting (the same
 * `loadConfig` the server runs) and stops the task with one line naming a bad one, before any
 * server starts. Then inside `$(...)`, which prints the flags for the real command:
 *
 * ```sh
 * deno run -q --allow-env --allow-read=. scripts/task_flags.ts serve --check &&
 *   deno serve --parallel --allow-net --allow-env \
 *     $(deno run -q --allow-env --allow-read=. scripts/task_flags.ts serve) main.ts
 * ```
 *
 * - `serve` prints `--host=HOSTNAME --port=PORT` (defaults `0.0.0.0` and `8000`) and the KV
 *   permissions. `DENO_SERVE_ADDRESS`, when set, still wins over both: `deno serve` prefers it.
 * - `kv` prints only the KV permissions (`dev` reads `PORT`/`HOSTNAME` itself; `user:add` serves
 *   nothing).
 * - `--dev` validates with the development defaults (`deno task dev`).
 *
 * The KV permissions are read and write on the folder of `KV_PATH` (`data` by default), the
 * narrowest grant that lets the server create that folder and SQLite its `-wal`/`-shm`/`-journal`
 * files beside the database. None for `:memory:`, a denokv URL or Deploy's platform KV.
 *
 * @module
 */
import { resolve, sep } from "node:path";
import { ConfigError, loadConfig } from "../src/config.ts";

/** What the flags are for: `serve` adds the listen address to the KV permissions. */
export type FlagsFor = "serve" | "kv";

/**
 * The `--allow-read`/`--allow-write` flags that let a process open the KV database at `kvPath`.
 *
 * @param kvPath the `KV_PATH` setting as `loadConfig` returns it (`undefined` on Deploy)
 * @param cwd the folder the task runs in (the project), against which relative paths resolve
 * @throws {ConfigError} naming `KV_PATH` when its folder cannot be granted: a name with a space or
 * a comma (a task's `$(...)` splits on spaces; Deno's flag lists on commas), or the project
 * folder or one above it (the server would then be allowed to rewrite its own code)
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { kvPermissionFlags } from "./task_flags.ts";
 *
 * deepStrictEqual(kvPermissionFlags("data/store.sqlite3", "/srv/shop"), [
 *   "--allow-read=.",
 *   "--allow-write=data",
 * ]);
 * deepStrictEqual(kvPermissionFlags("/var/lib/shop/store.sqlite3", "/srv/shop"), [
 *   "--allow-read=.,/var/lib/shop",
 *   "--allow-write=/var/lib/shop",
 * ]);
 * deepStrictEqual(kvPermissionFlags(":memory:", "/srv/shop"), ["--allow-read=."]);
 * ```
 */
export function kvPermissionFlags(kvPath: string | undefined, cwd: string): string[] {
  if (kvPath === undefined || kvPath === ":memory:" || /^https?:\/\//.test(kvPath)) {
    return ["--allow-read=."];
  }
  const slash = kvPath.lastIndexOf("/");
  const folder = slash === -1 ? "." : slash === 0 ? "/" : kvPath.slice(0, slash);
  if (/[\s,]/.test(folder)) {
    throw new ConfigError(
      "KV_PATH",
      `the folder ${JSON.stringify(folder)} has a space or a comma in its name, which the deno ` +
        "tasks cannot grant access to; choose a folder without them",
    );
  }
  const absoluteFolder = resolve(cwd, folder);
  const project = resolve(cwd);
  const holdsProject = project === absoluteFolder ||
    project.startsWith(
      absoluteFolder.endsWith(sep) ? absoluteFolder : absoluteFolder + sep,
    );
  if (holdsProject) {
    throw new ConfigError(
      "KV_PATH",
      `${JSON.stringify(kvPath)} is not in a folder of its own: the deno tasks grant write ` +
        `access to the KV file's folder, here ${absoluteFolder}, which holds the server's code; ` +
        "use a folder such as data/ (the default) or /var/lib/shop/",
    );
  }
  const insideProject = absoluteFolder.startsWith(project + sep);
  return [
    insideProject ? "--allow-read=." : `--allow-read=.,${folder}`,
    `--allow-write=${folder}`,
  ];
}

/**
 * Every flag a task needs from the settings in `env`.
 *
 * @throws {ConfigError} naming the first bad setting
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { taskFlags } from "./task_flags.ts";
 *
 * deepStrictEqual(taskFlags("serve", { PORT: "3000" }, "production", "/srv/shop"), [
 *   "--host=0.0.0.0",
 *   "--port=3000",
 *   "--allow-read=.",
 *   "--allow-write=data",
 * ]);
 * ```
 */
export function taskFlags(
  flagsFor: FlagsFor,
  env: Record<string, string | undefined>,
  mode: "dev" | "production",
  cwd: string,
): string[] {
  const config = loadConfig(env, mode);
  const address = flagsFor === "serve"
    ? [`--host=${config.hostname}`, `--port=${config.port}`]
    : [];
  return [...address, ...kvPermissionFlags(config.kvPath, cwd)];
}

if (import.meta.main) {
  const [flagsFor, ...options] = Deno.args;
  if (flagsFor !== "serve" && flagsFor !== "kv") {
    console.error("Usage: scripts/task_flags.ts serve|kv [--check] [--dev]");
    Deno.exit(2);
  }
  try {
    const mode = options.includes("--dev") ? "dev" : "production";
    const flags = taskFlags(flagsFor, Deno.env.toObject(), mode, Deno.cwd());
    if (!options.includes("--check")) console.log(flags.join(" "));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
}
