/**
 * Where a sign-in may send the browser next: only paths on this site (ASVS 5.1.5, open redirects).
 *
 * @module
 */

const BASE = "http://same-origin.invalid";

/**
 * Returns `raw` when it is a same-site path such as `/cart?x=1`, else null. Rejects
 * protocol-relative `//host`, `/\host` (browsers read `\` as `/`), schemes, control characters,
 * and percent-encoded forms of any of those.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { safeRedirectPath } from "./redirect_target.ts";
 *
 * strictEqual(safeRedirectPath("/products?page=2"), "/products?page=2");
 * strictEqual(safeRedirectPath("//evil.example"), null);
 * strictEqual(safeRedirectPath("/%2F%2Fevil.example"), null);
 * ```
 */
export function safeRedirectPath(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length > 2048 || !raw.startsWith("/")) return null;
  let decoded = raw;
  for (let round = 0; round < 4; round++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return null;
    }
    if (next === decoded) break;
    decoded = next;
  }
  for (const form of [raw, decoded]) {
    // deno-lint-ignore no-control-regex
    if (/[\\\u0000-\u001f\u007f]/.test(form) || form.startsWith("//")) {
      return null;
    }
  }
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return null;
  }
  return url.origin === BASE ? raw : null;
}
