/**
 * Reading the `Cookie` request header and writing `Set-Cookie` response headers.
 *
 * Written by hand after RFC 6265bis: lenient when reading (a request header is attacker input,
 * so parsing never throws) and strict when writing (a bad attribute is our bug, so it throws
 * with the bad input quoted). Pure: strings and `Headers` only, nothing from Hono or KV.
 *
 * @module
 */

/** The `SameSite` values RFC 6265bis section 4.1.2.7 defines, spelled as it spells them. */
export type SameSite = "Strict" | "Lax" | "None";

/** Attributes of one `Set-Cookie` header; only the ones given are emitted. */
export interface CookieOptions {
  /** Seconds until the cookie expires: a whole number from 0 to 400 days. */
  maxAge?: number;
  /** Absolute expiry, written as an IMF-fixdate. */
  expires?: Date;
  /**
   * Host (and its subdomains) the cookie is sent to; omit for a host-only cookie. A host name:
   * letters, digits and hyphens in dot-separated labels, an IDN in punycode (`xn--...`).
   */
  domain?: string;
  /** Path prefix the cookie is sent for. */
  path?: string;
  /** Send only over HTTPS (and to localhost). */
  secure?: boolean;
  /** Hide the cookie from `document.cookie`. */
  httpOnly?: boolean;
  /** Cross-site sending policy; case-insensitive on input, canonical on output. */
  sameSite?: SameSite | Lowercase<SameSite>;
  /** CHIPS: key the cookie to the top-level site (needs `secure`). */
  partitioned?: boolean;
}

/**
 * RFC 6265bis 4.1.2.1 / 5.6: user agents cap Max-Age and Expires at 400 days, so a longer one
 * is refused.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { MAX_COOKIE_AGE_SECONDS, serializeCookie } from "@kvsession/hono/cookies";
 *
 * serializeCookie("theme", "dark", { maxAge: MAX_COOKIE_AGE_SECONDS });
 * throws(() => serializeCookie("theme", "dark", { maxAge: MAX_COOKIE_AGE_SECONDS + 1 }));
 * ```
 */
export const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 60 * 60;

/**
 * RFC 6265bis 5.6: user agents ignore a cookie whose name plus value exceeds 4096 bytes, so a
 * longer one is refused.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { MAX_NAME_VALUE_BYTES, serializeCookie } from "@kvsession/hono/cookies";
 *
 * throws(() => serializeCookie("big", "x".repeat(MAX_NAME_VALUE_BYTES)));
 * ```
 */
export const MAX_NAME_VALUE_BYTES = 4096;

/** RFC 6265bis 5.6: user agents ignore an attribute value longer than 1024 bytes. */
const MAX_ATTRIBUTE_VALUE_BYTES = 1024;

// RFC 9110 5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6265bis 4.1.1: path-value and domain-value are CHARs other than CTLs and ";".
const ATTRIBUTE_VALUE = /^[\x20-\x3A\x3C-\x7E]*$/;
// Null prototype, so an input like "constructor" finds no inherited entry.
const SAME_SITE: Record<string, SameSite> = Object.assign(Object.create(null), {
  strict: "Strict",
  lax: "Lax",
  none: "None",
});

/**
 * Parses a `Cookie` request header into a name -> value map. Never throws.
 *
 * Pairs without `=` or with an empty name are skipped; names and values are trimmed of spaces and
 * tabs only (RFC 6265bis whitespace, so `\u00A0__Host-sid` stays a different name); the first of
 * duplicate names wins, because browsers send the most specific cookie first; one pair of
 * surrounding double quotes is removed; percent-escapes are decoded, and a malformed escape
 * leaves the value as it was. The result has a null prototype, so `__proto__` is a plain name.
 *
 * @example Reading a session cookie
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseCookies } from "@kvsession/hono/cookies";
 *
 * const cookies = parseCookies('sid=abc; theme="dark"; sid=shadowed; bad=%E0%A4%A');
 * strictEqual(cookies.sid, "abc");
 * strictEqual(cookies.theme, "dark");
 * strictEqual(cookies.bad, "%E0%A4%A");
 * strictEqual(cookies.toString, undefined);
 * ```
 */
export function parseCookies(header: string | null | undefined): Record<string, string> {
  // A fresh literal given a null prototype keeps V8's fast properties; `Object.create(null)`
  // starts in dictionary mode, which made a typical header ~20 % slower to parse (bench/README.md).
  const cookies: Record<string, string> = Object.setPrototypeOf({}, null);
  if (typeof header !== "string" || header === "") return cookies;
  const length = header.length;
  let start = 0;
  // The next "=" and "%" at or after the current pair, kept across pairs: searching afresh from
  // every pair would rescan the rest of the header for each pair without "=" (quadratic on
  // "a;a;a;..."), and a value is only handed to the decoder when a "%" lies inside it.
  let eq = header.indexOf("=");
  let percent = header.indexOf("%");
  while (start < length && eq !== -1) {
    let end = header.indexOf(";", start);
    if (end === -1) end = length;
    if (eq < end) {
      let nameEnd = eq;
      while (start < nameEnd && isWhitespace(header.charCodeAt(start))) start++;
      while (nameEnd > start && isWhitespace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      const name = header.slice(start, nameEnd);
      if (name !== "" && cookies[name] === undefined) {
        if (percent !== -1 && percent <= eq) percent = header.indexOf("%", eq + 1);
        cookies[name] = pairValue(header, eq, end, percent !== -1 && percent < end);
      }
      eq = header.indexOf("=", end + 1);
    }
    start = end + 1;
  }
  return cookies;
}

/**
 * Returns the value of the first cookie named `name` in a `Cookie` request header, or undefined:
 * always what `parseCookies(header)[name]` would give, without building the whole map.
 *
 * For a request that needs one cookie (the session, a flash notice) it is the cheaper read, and
 * a header stuffed with thousands of pairs or malformed escapes costs one scan instead of an
 * object of thousands of names and an exception per bad value. A `name` that `parseCookies`
 * could never produce (empty, holding `=` or `;`, or starting or ending with a space or tab)
 * finds nothing. Never throws.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { getCookie } from "@kvsession/hono/cookies";
 *
 * strictEqual(getCookie("theme=dark; sid=abc; sid=shadowed", "sid"), "abc");
 * strictEqual(getCookie("xsid=1; sid", "sid"), undefined);
 * ```
 */
export function getCookie(header: string | null | undefined, name: string): string | undefined {
  if (typeof header !== "string" || !couldBeParsedName(name)) return undefined;
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    const eq = pairNameEnd(header, at, at + name.length);
    if (eq === -1) continue;
    let end = header.indexOf(";", eq + 1);
    if (end === -1) end = header.length;
    const percent = header.indexOf("%", eq + 1);
    return pairValue(header, eq, end, percent !== -1 && percent < end);
  }
  return undefined;
}

/** True when `name` is one `parseCookies` can return: trimmed, non-empty, no `=` or `;`. */
function couldBeParsedName(name: string): boolean {
  return typeof name === "string" && name !== "" && !isWhitespace(name.charCodeAt(0)) &&
    !isWhitespace(name.charCodeAt(name.length - 1)) && !name.includes("=") &&
    !name.includes(";");
}

/**
 * When `header.slice(from, to)` is the whole name of a pair (only spaces and tabs between it and
 * the pair's start and its `=`), the position of that `=`; otherwise -1.
 */
function pairNameEnd(header: string, from: number, to: number): number {
  let before = from - 1;
  while (before >= 0 && isWhitespace(header.charCodeAt(before))) before--;
  if (before !== -1 && header.charCodeAt(before) !== 0x3b) return -1; // ";"
  while (to < header.length && isWhitespace(header.charCodeAt(to))) to++;
  return header.charCodeAt(to) === 0x3d ? to : -1; // "="
}

/**
 * The value of the pair whose `=` is at `eq` and which ends at `end`: trimmed of spaces and
 * tabs, one pair of surrounding double quotes removed, percent-decoded when `hasPercent`. Callers
 * pass whether a `%` lies between `eq` and `end`: what trimming and unquoting cut off is spaces,
 * tabs and quotes only, so such a `%` is always inside the value.
 */
function pairValue(header: string, eq: number, end: number, hasPercent: boolean): string {
  let start = eq + 1;
  while (start < end && isWhitespace(header.charCodeAt(start))) start++;
  while (end > start && isWhitespace(header.charCodeAt(end - 1))) end--;
  if (
    end - start >= 2 && header.charCodeAt(start) === 0x22 && header.charCodeAt(end - 1) === 0x22
  ) {
    start++;
    end--;
  }
  const value = header.slice(start, end);
  return hasPercent ? decodeEscapes(value) : value;
}

/** RFC 6265bis whitespace: space and horizontal tab. */
function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function decodeEscapes(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    // A malformed escape is a browser's or attacker's problem, not a reason to fail the request.
    return value;
  }
}

/**
 * Builds one `Set-Cookie` header value. The value is percent-encoded, so any well-formed string
 * round-trips through {@linkcode parseCookies}.
 *
 * Throws `SyntaxError` for a name that is not an RFC 9110 token, a `Path`/`Domain` holding `;`,
 * control or non-ASCII characters, or a `Domain` that is not a host name (RFC 1123 labels; an
 * IDN must be given in punycode); `RangeError` for a bad `Max-Age`, an invalid `Expires`, an
 * unknown `SameSite`, or an oversized cookie; `TypeError` for options that contradict each other
 * or a cookie prefix (`SameSite=None`/`Partitioned` without `Secure`, `__Secure-` and `__Host-`
 * rules from RFC 6265bis 4.1.3). The options object is never modified.
 *
 * @example A session cookie
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { serializeCookie } from "@kvsession/hono/cookies";
 *
 * strictEqual(
 *   serializeCookie("__Host-sid", "a b", { path: "/", secure: true, httpOnly: true, sameSite: "Lax" }),
 *   "__Host-sid=a%20b; Path=/; Secure; HttpOnly; SameSite=Lax",
 * );
 * ```
 */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  // Built only when something is wrong: JSON.stringify on every call was most of its cost.
  const label = () => `Cannot serialize cookie ${JSON.stringify(String(name))}`;
  if (typeof name !== "string" || !TOKEN.test(name)) {
    throw new SyntaxError(`${label()}: name is not an RFC 9110 token`);
  }
  if (typeof value !== "string") {
    throw new TypeError(`${label()}: value must be a string, got ${typeof value}`);
  }
  if (!value.isWellFormed()) {
    throw new TypeError(`${label()}: value is not well-formed Unicode (lone surrogate)`);
  }
  const encoded = encodeURIComponent(value);
  if (name.length + encoded.length > MAX_NAME_VALUE_BYTES) {
    throw new RangeError(
      `${label()}: name and encoded value are ${
        name.length + encoded.length
      } bytes, over the ${MAX_NAME_VALUE_BYTES}-byte limit`,
    );
  }
  const parts = [`${name}=${encoded}`];

  const { maxAge, expires, domain, path, secure, httpOnly, sameSite, partitioned } = options;
  if (maxAge !== undefined) {
    if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > MAX_COOKIE_AGE_SECONDS) {
      throw new RangeError(
        `${label()}: Max-Age ${
          JSON.stringify(String(maxAge))
        } is not a whole number of seconds from 0 to ${MAX_COOKIE_AGE_SECONDS} (400 days)`,
      );
    }
    parts.push(`Max-Age=${maxAge}`);
  }
  if (expires !== undefined) {
    if (!(expires instanceof Date) || Number.isNaN(expires.getTime())) {
      throw new RangeError(
        `${label()}: Expires ${JSON.stringify(String(expires))} is not a valid Date`,
      );
    }
    // Date#toUTCString produces the IMF-fixdate of RFC 9110 5.6.7.
    parts.push(`Expires=${expires.toUTCString()}`);
  }
  if (domain !== undefined) {
    checkAttributeValue(label, "Domain", domain);
    // RFC 6265bis 5.6.3: user agents ignore an empty Domain; that is never what a caller meant.
    if (domain === "") throw new SyntaxError(`${label()}: Domain is empty`);
    const problem = hostNameProblem(domain);
    if (problem !== undefined) {
      throw new SyntaxError(
        `${label()}: Domain ${JSON.stringify(domain)} is not a host name: ${problem}`,
      );
    }
    parts.push(`Domain=${domain}`);
  }
  if (path !== undefined) {
    checkAttributeValue(label, "Path", path);
    // RFC 6265bis 5.6.4: a Path not starting with "/" is replaced by the default path.
    if (!path.startsWith("/")) {
      throw new SyntaxError(`${label()}: Path ${JSON.stringify(path)} does not start with "/"`);
    }
    parts.push(`Path=${path}`);
  }
  if (secure) parts.push("Secure");
  if (httpOnly) parts.push("HttpOnly");
  if (sameSite !== undefined) {
    const canonical = typeof sameSite === "string" ? SAME_SITE[sameSite.toLowerCase()] : undefined;
    if (canonical === undefined) {
      throw new RangeError(
        `${label()}: SameSite ${JSON.stringify(String(sameSite))} is not Strict, Lax or None`,
      );
    }
    // RFC 6265bis 5.6.7: user agents reject SameSite=None without Secure.
    if (canonical === "None" && !secure) {
      throw new TypeError(`${label()}: SameSite=None requires Secure`);
    }
    parts.push(`SameSite=${canonical}`);
  }
  if (partitioned) {
    if (!secure) throw new TypeError(`${label()}: Partitioned requires Secure`);
    parts.push("Partitioned");
  }

  // RFC 6265bis 4.1.3: prefixes are matched case-insensitively by user agents.
  const lowerName = name.toLowerCase();
  if (lowerName.startsWith("__secure-") && !secure) {
    throw new TypeError(`${label()}: the __Secure- prefix requires Secure`);
  }
  if (lowerName.startsWith("__host-")) {
    if (!secure) throw new TypeError(`${label()}: the __Host- prefix requires Secure`);
    if (domain !== undefined) throw new TypeError(`${label()}: the __Host- prefix forbids Domain`);
    if (path !== "/") throw new TypeError(`${label()}: the __Host- prefix requires Path=/`);
  }
  return parts.join("; ");
}

function checkAttributeValue(label: () => string, attribute: string, value: string): void {
  if (typeof value !== "string" || !ATTRIBUTE_VALUE.test(value)) {
    throw new SyntaxError(
      `${label()}: ${attribute} ${
        JSON.stringify(String(value))
      } contains ";", a control or a non-ASCII character`,
    );
  }
  // ATTRIBUTE_VALUE admits ASCII only, so UTF-16 units and bytes count alike.
  if (value.length > MAX_ATTRIBUTE_VALUE_BYTES) {
    throw new RangeError(
      `${label()}: ${attribute} is longer than ${MAX_ATTRIBUTE_VALUE_BYTES} bytes`,
    );
  }
}

// RFC 1123 2.1 (after RFC 1034 3.5): letters, digits and hyphens, not starting or ending with a
// hyphen; 63 characters at most.
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// WHATWG URL "ends in a number": a host whose last label is decimal or 0x-hex is parsed as IPv4.
const NUMERIC_LABEL = /^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$/;

/**
 * Why `domain` is not a host name a `Domain` attribute can name (RFC 6265bis 4.1.2.3 defines
 * the value as a host name), or undefined when it is one. `domain` already passed
 * `checkAttributeValue`, so it is non-empty printable ASCII.
 *
 * A leading dot is allowed (RFC 6265bis 5.6.3: user agents drop it) and letters may be of any
 * case (host names compare case-insensitively). Refused: any character but letters, digits,
 * hyphens and dots (so `_`, spaces, `@`, `/`, `:` and so IPv6 literals); an empty label (so a
 * trailing dot, which makes a name browsers match differently); a label starting or ending with
 * a hyphen or over 63 characters; a name over 253 characters; and a name whose last label is a
 * number, which browsers read as an IPv4 address (a cookie for an address needs no Domain).
 * Internationalised names are given as their punycode A-labels (`xn--...`); non-ASCII never
 * gets here.
 */
function hostNameProblem(domain: string): string | undefined {
  const name = domain.startsWith(".") ? domain.slice(1) : domain;
  if (/[^A-Za-z0-9.-]/.test(name)) {
    return "only letters, digits, hyphens and dots are allowed";
  }
  // RFC 1034 3.1: 255 octets on the wire are 253 characters of dotted text.
  if (name.length > 253) return "it is longer than 253 characters";
  const labels = name.split(".");
  for (const label of labels) {
    if (label === "") return "it has an empty label";
    if (label.length > 63) {
      return `label ${JSON.stringify(label)} is longer than 63 characters`;
    }
    if (!HOST_LABEL.test(label)) {
      return `label ${JSON.stringify(label)} starts or ends with a hyphen`;
    }
  }
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!)) {
    return "it ends in a number, so browsers read it as an IP address";
  }
  return undefined;
}

/** Returns the cookie name a `Set-Cookie` header value sets. */
function setCookieName(header: string): string {
  const eq = header.indexOf("=");
  return eq === -1 ? header : header.slice(0, eq);
}

/**
 * Appends a `Set-Cookie` header, replacing any earlier one for the same name in `headers`.
 *
 * Several cookies give several headers (never one header overwriting another), and RFC 6265bis
 * 4.1.1 asks that one response not set the same name twice, so the last write wins.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { appendSetCookie } from "@kvsession/hono/cookies";
 *
 * const headers = new Headers();
 * appendSetCookie(headers, "a", "1", { path: "/" });
 * appendSetCookie(headers, "b", "2");
 * appendSetCookie(headers, "a", "3", { path: "/" });
 * deepStrictEqual(headers.getSetCookie(), ["b=2", "a=3; Path=/"]);
 * ```
 */
export function appendSetCookie(
  headers: Headers,
  name: string,
  value: string,
  options?: CookieOptions,
): void {
  const cookie = serializeCookie(name, value, options);
  const existing = headers.getSetCookie();
  if (existing.some((header) => setCookieName(header) === name)) {
    headers.delete("Set-Cookie");
    for (const header of existing) {
      if (setCookieName(header) !== name) headers.append("Set-Cookie", header);
    }
  }
  headers.append("Set-Cookie", cookie);
}

/** The attributes that identify a cookie to the browser when it is deleted. */
export type DeleteCookieOptions = Omit<CookieOptions, "maxAge" | "expires">;

/**
 * Appends a `Set-Cookie` header that deletes a cookie: empty value and `Max-Age=0`.
 *
 * Pass the same Path, Domain, Secure and SameSite the cookie was set with: a browser only
 * replaces a cookie with matching name, domain and path, and refuses a `__Host-`/`__Secure-`
 * cookie without Secure.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { deleteCookie } from "@kvsession/hono/cookies";
 *
 * const headers = new Headers();
 * deleteCookie(headers, "__Host-sid", { path: "/", secure: true, httpOnly: true });
 * deepStrictEqual(headers.getSetCookie(), ["__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly"]);
 * ```
 */
export function deleteCookie(
  headers: Headers,
  name: string,
  options: DeleteCookieOptions = {},
): void {
  appendSetCookie(headers, name, "", { ...options, maxAge: 0 });
}
