/**
 * Opening the configured Deno KV: a local file (its folder created first), `:memory:`, a
 * self-hosted denokv URL, or the platform database on Deno Deploy.
 *
 * @module
 */
import { type Config, ConfigError } from "./config.ts";

/**
 * Opens the database `config.kvPath` names; only entry points call this.
 *
 * @throws {ConfigError} naming `KV_PATH`, the path and what to do, when a local database cannot
 * be opened: the process may not read and write it, its folder cannot be created, or the file is
 * not a Deno KV database
 */
export async function openKv(config: Pick<Config, "kvPath">): Promise<Deno.Kv> {
  const path = config.kvPath;
  if (path === undefined || path === ":memory:" || /^https?:\/\//.test(path)) {
    return await Deno.openKv(path);
  }
  const slash = path.lastIndexOf("/");
  const folder = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  let mayNotCreate = false;
  if (folder !== "." && folder !== "/") {
    try {
      await Deno.mkdir(folder, { recursive: true });
    } catch (error) {
      // Granted the file alone, a process may not create its folder, which can exist already:
      // opening the file tells.
      if (!(error instanceof Deno.errors.NotCapable)) {
        throw new ConfigError(
          "KV_PATH",
          `cannot create the folder of ${JSON.stringify(path)}: ${firstLine(error)}; ` +
            "create it, or point KV_PATH at a folder that can hold the database",
        );
      }
      mayNotCreate = true;
    }
  }
  try {
    return await Deno.openKv(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new ConfigError(
        "KV_PATH",
        `this process may not read and write ${JSON.stringify(path)}; run it with ` +
          `--allow-read=${folder} --allow-write=${folder} (deno task start, dev and user:add ` +
          "grant that themselves)",
      );
    }
    const cause = firstLine(error) +
      (mayNotCreate ? `; this process may not create the folder ${JSON.stringify(folder)}` : "");
    throw new ConfigError(
      "KV_PATH",
      `cannot open ${JSON.stringify(path)} as a Deno KV database (${cause}); point KV_PATH at ` +
        "a Deno KV file, or at a new file name in a folder this process may write",
    );
  }
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split("\n", 1)[0]!;
}
