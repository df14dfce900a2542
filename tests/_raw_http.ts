/**
 * HTTP/1.1 over a raw TCP socket, for requests `fetch()` refuses to send (control characters in
 * headers, TRACE, malformed request lines) and for a fresh connection per request.
 *
 * @module
 */

/** What came back on a raw connection. */
export interface RawResponse {
  /** Status code from the status line, or 0 when the server closed without one. */
  status: number;
  /** Everything received, decoded as UTF-8 (lossy). */
  text: string;
}

/** Options of {@linkcode rawRequest}. */
export interface RawRequestOptions {
  /** Longest wait for the server to close the connection; default 5 s. */
  timeoutMs?: number;
  /** Shut down our sending side after writing (an upload the client abandoned). */
  halfClose?: boolean;
}

/**
 * Writes `request` (the whole HTTP message) to a new connection to 127.0.0.1:`port`, then reads
 * until the server closes the connection or `timeoutMs` passes (then the socket is closed).
 * Send `Connection: close` so the server ends the connection after answering.
 */
export async function rawRequest(
  port: number,
  request: Uint8Array | string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const { timeoutMs = 5_000, halfClose = false } = options;
  const bytes = typeof request === "string" ? new TextEncoder().encode(request) : request;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  const timer = setTimeout(close, timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    try {
      await writeAll(conn, bytes);
      if (halfClose) await conn.closeWrite();
    } catch {
      // The server may answer (e.g. 431) and close before reading everything we send.
    }
    const buffer = new Uint8Array(16 * 1024);
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        break; // Reset by the server, or closed by our timer.
      }
      if (count === null) break;
      chunks.push(buffer.slice(0, count));
    }
  } finally {
    clearTimeout(timer);
    close();
  }
  const text = new TextDecoder().decode(concat(chunks));
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, text };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
