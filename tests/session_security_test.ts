/**
 * ASVS 4.0.3 V3 requirements no other test file proves directly: session tokens stay out of
 * URLs and pages (3.1.1, 3.2.3), and come from the CSPRNG with 256 bits (3.2.2, 3.2.4). The map
 * from every requirement to its tests is docs/security.md.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { generateToken, hashToken } from "@kvsession/hono";
import {
  createTestApp,
  form,
  setCookieValue,
  signIn,
  signUp,
  type TestApp,
  withSession,
} from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const FORM_TYPE = { "Content-Type": "application/x-www-form-urlencoded" };

/** Every URL a response hands the browser: Location, and href/action/src in its HTML. */
function urlsIn(response: Response, body: string): string[] {
  const urls = [...body.matchAll(/\b(?:href|action|src)="([^"]*)"/g)].map((match) => match[1]!);
  const location = response.headers.get("Location");
  return location === null ? urls : [location, ...urls];
}

Deno.test(
  "No session token appears in a URL, page or JSON body, and one in a URL is ignored (ASVS 3.1.1, 3.2.3)",
  async () => {
    const app: TestApp = await createTestApp();
    try {
      const tokens = [await signUp(app)];
      const seen: { where: string; urls: string[]; body: string; headers: string }[] = [];
      const record = async (where: string, response: Response) => {
        const body = await response.text();
        const headers = [...response.headers].filter(([name]) => name !== "set-cookie")
          .map(([name, value]) => `${name}: ${value}`).join("\n");
        seen.push({ where, urls: urlsIn(response, body), body, headers });
      };
      const get = async (path: string) =>
        await record(`GET ${path}`, await app.request(path, { headers: withSession(tokens[0]!) }));
      const post = async (path: string, fields: Record<string, string>) =>
        await record(
          `POST ${path}`,
          await app.request(path, {
            ...form(fields),
            headers: withSession(tokens[0]!, FORM_TYPE),
          }),
        );

      for (const path of ["/", "/dashboard", "/products", "/cart", "/account", "/api/me"]) {
        await get(path);
      }
      await post("/cart", { productId: "mug", quantity: "2" });
      await get("/cart");
      await record(
        "POST /api/cart",
        await app.request("/api/cart", {
          method: "POST",
          headers: withSession(tokens[0]!, { "Content-Type": "application/json" }),
          body: JSON.stringify({ productId: "tea-green", quantity: 1 }),
        }),
      );
      await get("/api/cart");
      // A second sign-in with a next page, then a password change: both issue new tokens.
      const again = await signIn(app, "alice", PASSWORD, {
        headers: withSession(tokens[0]!),
        body: new URLSearchParams({ username: "alice", password: PASSWORD, next: "/account" })
          .toString(),
      });
      strictEqual(again.status, 303);
      tokens.unshift(setCookieValue(again, "sid")!);
      await record("POST /login", again);
      const changed = await app.request("/account/password", {
        ...form({ currentPassword: PASSWORD, newPassword: "a brand new passphrase" }),
        headers: withSession(tokens[0]!, FORM_TYPE),
      });
      strictEqual(changed.status, 303);
      tokens.unshift(setCookieValue(changed, "sid")!);
      await record("POST /account/password", changed);
      await get("/account");
      await post("/logout", {});

      ok(seen.length >= 14);
      for (const token of tokens) {
        const forms = [token, hashToken(token), encodeURIComponent(token)];
        for (const { where, urls, body, headers } of seen) {
          for (const text of forms) {
            ok(!urls.some((url) => url.includes(text)), `${where} put a token in a URL`);
            ok(!body.includes(text), `${where} put a token in the body`);
            ok(!headers.includes(text), `${where} put a token in a header other than Set-Cookie`);
          }
          for (const url of urls) {
            ok(!/[?&;](?:sid|__Host-sid|session|token)=/i.test(url), `${where}: ${url}`);
          }
        }
      }

      // The only place a token is read from is the Cookie header.
      const fresh = await signUp(app, "bob", PASSWORD, "Bob");
      for (const path of [`/api/me?sid=${fresh}`, `/api/me?__Host-sid=${fresh}`]) {
        const response = await app.request(path);
        strictEqual(response.status, 401, path);
        await response.body?.cancel();
      }
      const page = await app.request(`/dashboard?sid=${fresh}`);
      strictEqual(page.status, 303);
      strictEqual(page.headers.get("Location")?.startsWith("/login?next="), true);
      const me = await app.request("/api/me", { headers: withSession(fresh) });
      strictEqual((await me.json()).username, "bob");
    } finally {
      app.close();
    }
  },
);

Deno.test("generateToken() is 32 bytes from crypto.getRandomValues, unchanged (ASVS 3.2.2, 3.2.4)", () => {
  const original = crypto.getRandomValues;
  const requested: number[] = [];
  // Hand out known bytes to see that the token is exactly those bytes, base64url-encoded.
  crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
    const bytes = new Uint8Array(array!.buffer, array!.byteOffset, array!.byteLength);
    requested.push(bytes.length);
    bytes.forEach((_, i) => bytes[i] = i * 7 + 3);
    return array;
  }) as typeof crypto.getRandomValues;
  let token: string;
  try {
    token = generateToken();
  } finally {
    crypto.getRandomValues = original;
  }
  deepStrictEqual(requested, [32]);
  const expected = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3);
  strictEqual(token, expected.toBase64({ alphabet: "base64url", omitPadding: true }));
});

Deno.test("generateToken() gives distinct, evenly distributed 256-bit tokens (ASVS 3.2.2)", () => {
  const count = 2_000;
  const tokens = new Set(Array.from({ length: count }, () => generateToken()));
  strictEqual(tokens.size, count);
  let ones = 0;
  for (const token of tokens) {
    const bytes = Uint8Array.fromBase64(token, { alphabet: "base64url" });
    strictEqual(bytes.length, 32);
    for (const byte of bytes) for (let bit = byte; bit !== 0; bit >>= 1) ones += bit & 1;
  }
  // 512,000 fair bits: the share of ones is 0.5 with a standard deviation of 0.0007.
  const share = ones / (count * 256);
  ok(share > 0.49 && share < 0.51, `share of one bits ${share}`);
});

Deno.test("docs/security.md names only tests that exist", async () => {
  const root = new URL("../", import.meta.url);
  // deno fmt wraps long lines, so a name may span two lines of the page.
  const page = (await Deno.readTextFile(new URL("docs/security.md", root))).replace(/\s+/g, " ");
  const references = [...page.matchAll(/`(tests\/[^`\s]+\.ts)` › "([^"]+)"/g)];
  ok(references.length >= 40, `${references.length} references`);
  const sources = new Map<string, string>();
  const missing: string[] = [];
  for (const [, file, name] of references) {
    if (!sources.has(file!)) sources.set(file!, await Deno.readTextFile(new URL(file!, root)));
    if (!sources.get(file!)!.includes(name!)) missing.push(`${file} › "${name}"`);
  }
  deepStrictEqual(missing, []);
});
