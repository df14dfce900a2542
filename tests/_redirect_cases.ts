/**
 * `next` values for the redirect tables, shared by the unit test of `safeRedirectPath()` and the
 * route tests of `POST /login`.
 *
 * @module
 */

/** Same-site paths a sign-in may return to, unchanged. */
export const SAFE_NEXT_VALUES: string[] = [
  "/",
  "/x",
  "/dashboard",
  "/products?page=2",
  "/cart?item=tea&qty=2",
  "/account#sessions",
  "/search?q=//evil.com",
  "/caf%C3%A9",
  "/a/b/../c",
];

/** Values that would send the browser to another site, or look like they might. */
export const HOSTILE_NEXT_VALUES: string[] = [
  "//evil.com",
  "///evil.com",
  "/\\evil.com",
  "\\\\evil.com",
  "\\/evil.com",
  "https://evil.com",
  "http://localhost.evil.com/",
  "HTTPS://evil.com",
  "javascript:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "evil.com",
  "",
  "/%2F%2Fevil.com",
  "/%2f%2fevil.com",
  "/%2F/evil.com",
  "/%5Cevil.com",
  "/%5cevil.com",
  "%2F%2Fevil.com",
  "/%252F%252Fevil.com",
  "/%25252F%25252Fevil.com",
  "/%255Cevil.com",
  "\t//evil.com",
  " //evil.com",
  "/\t/evil.com",
  "/\n/evil.com",
  "/\r\n/evil.com",
  "/%09/evil.com",
  "/%0a/evil.com",
  "/%0d%0aLocation:%20https://evil.com",
  "/\u0000/evil.com",
  "/%00/evil.com",
  "/%E0%A4%A",
  "/" + "a".repeat(2048),
];
