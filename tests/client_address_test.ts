import { strictEqual } from "node:assert/strict";
import { clientAddress } from "../src/client_address.ts";

function request(headers: HeadersInit = {}): Request {
  return new Request("http://localhost/login", { headers });
}

Deno.test("clientAddress() uses the socket address unless a proxy header is trusted", async (t) => {
  const cases: [string, HeadersInit, string | undefined, string | undefined, string][] = [
    ["socket address", {}, "9.9.9.9", undefined, "9.9.9.9"],
    ["no socket address (app.request)", {}, undefined, undefined, "unknown"],
    [
      "X-Forwarded-For ignored when not trusted",
      { "X-Forwarded-For": "1.2.3.4" },
      "9.9.9.9",
      undefined,
      "9.9.9.9",
    ],
    [
      "X-Forwarded-For ignored without a socket address",
      { "X-Forwarded-For": "1.2.3.4" },
      undefined,
      undefined,
      "unknown",
    ],
    [
      "trusted header: the only entry",
      { "X-Forwarded-For": "1.2.3.4" },
      "10.0.0.1",
      "X-Forwarded-For",
      "1.2.3.4",
    ],
    [
      "trusted header: the last entry, which the proxy appended",
      { "X-Forwarded-For": "6.6.6.6, 7.7.7.7,1.2.3.4" },
      "10.0.0.1",
      "X-Forwarded-For",
      "1.2.3.4",
    ],
    [
      "trusted header named in another case",
      { "x-forwarded-for": "6.6.6.6, 1.2.3.4" },
      "10.0.0.1",
      "X-FORWARDED-FOR",
      "1.2.3.4",
    ],
    [
      "trusted header missing: socket address",
      {},
      "10.0.0.1",
      "X-Forwarded-For",
      "10.0.0.1",
    ],
    [
      "trusted header with an empty last entry: socket address",
      { "X-Forwarded-For": "1.2.3.4, " },
      "10.0.0.1",
      "X-Forwarded-For",
      "10.0.0.1",
    ],
    [
      "another trusted header",
      { "Fly-Client-IP": "2001:db8::1", "X-Forwarded-For": "6.6.6.6" },
      "10.0.0.1",
      "Fly-Client-IP",
      "2001:db8::1",
    ],
    [
      "an over-long value is cut to 64 characters",
      { "X-Forwarded-For": "x".repeat(500) },
      "10.0.0.1",
      "X-Forwarded-For",
      "x".repeat(64),
    ],
  ];
  for (const [name, headers, peer, trusted, expected] of cases) {
    await t.step(name, () => strictEqual(clientAddress(request(headers), peer, trusted), expected));
  }
});
