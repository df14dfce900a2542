import { strictEqual } from "node:assert/strict";
import { clientAddress, throttlingAddress } from "../src/client_address.ts";

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
      { "Fly-Client-IP": "192.0.2.1", "X-Forwarded-For": "6.6.6.6" },
      "10.0.0.1",
      "Fly-Client-IP",
      "192.0.2.1",
    ],
    [
      "an IPv6 socket address is keyed by its /64",
      {},
      "2001:db8:aa:bb:1:2:3:4",
      undefined,
      "2001:db8:aa:bb::/64",
    ],
    [
      "an IPv6 address from a trusted header is keyed by its /64",
      { "Fly-Client-IP": "2001:db8::1", "X-Forwarded-For": "6.6.6.6" },
      "10.0.0.1",
      "Fly-Client-IP",
      "2001:db8:0:0::/64",
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

Deno.test("throttlingAddress() keys every address of one IPv6 /64 alike", async (t) => {
  const cases: [string, string, string][] = [
    ["full form", "2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::/64"],
    ["compressed", "2001:db8:0:1::1", "2001:db8:0:1::/64"],
    ["another interface id, upper case", "2001:DB8:0:1:FFFF:EEEE:DDDD:CCCC", "2001:db8:0:1::/64"],
    ["the next /64 differs", "2001:db8:0:2::1", "2001:db8:0:2::/64"],
    ["leading ::", "::1", "0:0:0:0::/64"],
    ["trailing ::", "fe80::", "fe80:0:0:0::/64"],
    ["zone id", "fe80::1%eth0", "fe80:0:0:0::/64"],
    ["brackets", "[2001:db8::7]", "2001:db8:0:0::/64"],
    ["brackets and port", "[2001:db8:0:1::7]:8443", "2001:db8:0:1::/64"],
    ["embedded IPv4", "2001:db8:0:3::192.0.2.1", "2001:db8:0:3::/64"],
    ["IPv4-mapped: the IPv4 address", "::ffff:192.0.2.1", "192.0.2.1"],
    ["IPv4-mapped, hex form", "::ffff:c000:201", "192.0.2.1"],
    ["IPv4 unchanged", "192.0.2.1", "192.0.2.1"],
    ["unknown unchanged", "unknown", "unknown"],
    ["two :: (not an address) unchanged", "1::2::3", "1::2::3"],
    ["too many groups unchanged", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"],
    ["too few groups unchanged", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7"],
    [":: for no group unchanged", "1:2:3:4::5:6:7:8", "1:2:3:4::5:6:7:8"],
    ["a group of five digits unchanged", "12345::1", "12345::1"],
    ["a bad IPv4 tail unchanged", "::ffff:300.0.0.1", "::ffff:300.0.0.1"],
  ];
  for (const [name, address, expected] of cases) {
    await t.step(name, () => strictEqual(throttlingAddress(address), expected));
  }
});
