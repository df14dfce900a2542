/**
 * The `Cookie` headers the micro benchmarks parse: a typical one and a 4 KB one.
 *
 * @module
 */

/** A session token of the shape `generateToken()` makes. */
export const TOKEN = "5RzN0d6bXo3YdJ2lJ8kq9Qm1oV4tS7uW0xY2zA4bC6e";

/** What a browser sends to a shop: the session, a preference, analytics and consent cookies. */
export const TYPICAL_HEADER = [
  `__Host-sid=${TOKEN}`,
  "theme=dark",
  "_ga=GA1.1.1234567890.1735689600",
  "_ga_ABC123=GS1.1.1735689600.3.1.1735690000.0.0.0",
  "consent=%7B%22analytics%22%3Atrue%2C%22ads%22%3Afalse%7D",
  'lang="en-GB"',
].join("; ");

/** A 4 KB header: many cookies, some quoted or percent-encoded, the session near the end. */
export const LARGE_HEADER = (() => {
  const pairs: string[] = [];
  for (let i = 0; pairs.join("; ").length < 4096 - 60; i++) {
    const value = i % 5 === 0
      ? `%22value%20${i}%22`
      : i % 7 === 0
      ? `"quoted-${i}"`
      : `v${i}-${"x".repeat(40)}`;
    pairs.push(`cookie_${i}=${value}`);
  }
  pairs.splice(pairs.length - 2, 0, `__Host-sid=${TOKEN}`);
  return pairs.join("; ");
})();
