/**
 * Opening the configured Deno KV: a local file (its folder created first), `:memory:`, a
 * self-hosted denokv URL, or the platform database on Deno Deploy.
 *
 * @module
 */
import type { Config } from "./config.ts";

/** Opens the database `config.kvPath` names; only entry points call this. */
export async function openKv(config: Pick<Config, "kvPath">): Promise<Deno.Kv> {
  const path = config.kvPath;
  if (path !== undefined && path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const folder = path.slice(0, path.lastIndexOf("/"));
    if (folder !== "") await Deno.mkdir(folder, { recursive: true });
  }
  return await Deno.openKv(path);
}
