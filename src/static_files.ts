/**
 * The files under `static/`, read once at start-up into memory.
 *
 * Serving from a map of known names (instead of joining a request path onto a directory) makes
 * `..` and its encodings harmless by construction: a path that is not a key is a 404.
 *
 * @module
 */

/** One static file ready to send. */
export interface StaticFile {
  /** File contents. */
  body: Uint8Array<ArrayBuffer>;
  /** `Content-Type` header value. */
  contentType: string;
  /** Strong validator derived from the contents. */
  etag: string;
}

/** Static files keyed by their path below the static folder, e.g. `style.css`. */
export type StaticFiles = ReadonlyMap<string, StaticFile>;

const CONTENT_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  webp: "image/webp",
  woff2: "font/woff2",
};

/**
 * Reads every regular file below `dir` (symbolic links are not followed).
 *
 * @param dir folder path to read, e.g. `static`
 */
export async function loadStaticFiles(dir: string): Promise<StaticFiles> {
  const root = dir.endsWith("/") ? dir : dir + "/";
  const files = new Map<string, StaticFile>();
  async function walk(prefix: string): Promise<void> {
    for await (const entry of Deno.readDir(root + prefix)) {
      const name = prefix + entry.name;
      if (entry.isDirectory) await walk(name + "/");
      if (!entry.isFile) continue;
      const body = await Deno.readFile(root + name);
      const extension = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
      const hex = Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0"));
      files.set(name, {
        body,
        contentType: CONTENT_TYPES[extension] ?? "application/octet-stream",
        etag: `"${hex.join("")}"`,
      });
    }
  }
  await walk("");
  return files;
}
