/**
 * The client address used to throttle sign-ins.
 *
 * By default the socket's peer address. Behind a reverse proxy every request comes from the
 * proxy, so an operator can name the header the proxy sets (`TRUST_PROXY_HEADER`); only then is
 * it read, and only its last entry (the one the proxy appended), since a client can put anything
 * in the earlier ones.
 *
 * @module
 */

/**
 * Returns the client address for a request.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { clientAddress } from "./client_address.ts";
 *
 * const request = new Request("http://x/", { headers: { "X-Forwarded-For": "6.6.6.6, 1.2.3.4" } });
 * strictEqual(clientAddress(request, "9.9.9.9", "X-Forwarded-For"), "1.2.3.4");
 * strictEqual(clientAddress(request, "9.9.9.9", undefined), "9.9.9.9");
 * ```
 */
export function clientAddress(
  request: Request,
  peerAddress: string | undefined,
  trustProxyHeader: string | undefined,
): string {
  if (trustProxyHeader !== undefined) {
    const forwarded = request.headers.get(trustProxyHeader)?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  return peerAddress ?? "unknown";
}
