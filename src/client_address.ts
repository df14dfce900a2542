/**
 * The client address used to throttle sign-ins, sign-ups and password changes.
 *
 * By default the socket's peer address. Behind a reverse proxy every request comes from the
 * proxy, so an operator can name the header the proxy sets (`TRUST_PROXY_HEADER`); only then is
 * it read, and only its last entry (the one the proxy appended), since a client can put anything
 * in the earlier ones.
 *
 * An IPv6 client is keyed by its /64, not its full address: one subscriber or one server usually
 * gets a whole /64 (2^64 addresses, RFC 6177 and common hosting practice) and can pick a fresh
 * address for every request, which would make every per-address limit void. An IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, as dual-stack sockets report IPv4 peers) is the IPv4 address.
 *
 * @module
 */

/**
 * Returns the client address for a request: the throttling key, with an IPv6 address cut to its
 * /64 (see {@linkcode throttlingAddress}).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { clientAddress } from "./client_address.ts";
 *
 * const request = new Request("http://x/", { headers: { "X-Forwarded-For": "6.6.6.6, 1.2.3.4" } });
 * strictEqual(clientAddress(request, "9.9.9.9", "X-Forwarded-For"), "1.2.3.4");
 * strictEqual(clientAddress(request, "9.9.9.9", undefined), "9.9.9.9");
 * strictEqual(clientAddress(request, "2001:db8:1:2:3:4:5:6", undefined), "2001:db8:1:2::/64");
 * ```
 */
export function clientAddress(
  request: Request,
  peerAddress: string | undefined,
  trustProxyHeader: string | undefined,
): string {
  if (trustProxyHeader !== undefined) {
    const forwarded = request.headers.get(trustProxyHeader)?.split(",").at(-1)?.trim();
    if (forwarded) return throttlingAddress(forwarded.slice(0, 64));
  }
  return peerAddress === undefined ? "unknown" : throttlingAddress(peerAddress);
}

/**
 * The key an address is throttled by: an IPv6 address becomes its /64 prefix written as four
 * lowercase groups (`2001:db8:0:1::/64`), an IPv4-mapped one its IPv4 address; anything else
 * (IPv4, a name, garbage from a header) is returned unchanged. Brackets, a port after them and a
 * zone (`%eth0`) are dropped from IPv6.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { throttlingAddress } from "./client_address.ts";
 *
 * strictEqual(throttlingAddress("2001:DB8::1"), "2001:db8:0:0::/64");
 * strictEqual(throttlingAddress("[2001:db8:0:0:ffff::2]:443"), "2001:db8:0:0::/64");
 * strictEqual(throttlingAddress("::ffff:192.0.2.1"), "192.0.2.1");
 * strictEqual(throttlingAddress("192.0.2.1"), "192.0.2.1");
 * ```
 */
export function throttlingAddress(address: string): string {
  const groups = parseIpv6(address);
  if (groups === null) return address;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(":")}::/64`;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const IPV4_TAIL = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The eight 16-bit groups of an IPv6 address (RFC 4291 section 2.2 text forms), or null. */
function parseIpv6(text: string): number[] | null {
  let rest = text.trim();
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(rest);
  if (bracketed) rest = bracketed[1]!;
  const zone = rest.indexOf("%");
  if (zone !== -1) rest = rest.slice(0, zone);
  if (!rest.includes(":")) return null;

  const tail: number[] = [];
  const ipv4 = IPV4_TAIL.exec(rest);
  if (ipv4) {
    const octets = ipv4.slice(2, 6).map(Number);
    if (octets.some((octet) => octet > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail.push((a << 8) | b, (c << 8) | d);
    const head = ipv4[1]!;
    rest = head.endsWith("::") ? head : head.slice(0, -1);
  }

  const wanted = 8 - tail.length;
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const split = (part: string) => part === "" ? [] : part.split(":");
  const left = split(halves[0]!);
  const right = halves.length === 2 ? split(halves[1]!) : [];
  if (![...left, ...right].every((group) => HEX_GROUP.test(group))) return null;
  const missing = wanted - left.length - right.length;
  // "::" stands for at least one zero group; without it every group must be written.
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [
    ...left.map((group) => parseInt(group, 16)),
    ...Array<number>(halves.length === 2 ? missing : 0).fill(0),
    ...right.map((group) => parseInt(group, 16)),
    ...tail,
  ];
}
