/**
 * Structured logging: one JSON object per line, for humans with `jq` and for log platforms.
 *
 * Callers pass only fields they chose; nothing here reads headers or bodies, so no cookie,
 * token or password can reach a log line by accident.
 *
 * @module
 */

/** Fields of one log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go; tests pass one that collects them. */
export interface Logger {
  /** Normal events: requests, start-up, shutdown. */
  info(message: string, fields?: LogFields): void;
  /** Unexpected failures; `fields.stack` carries the stack trace (server-side only). */
  error(message: string, fields?: LogFields): void;
}

/**
 * Formats one log line: `{"time":ISO-8601,"level":…,"message":…,…fields}`, the JSON
 * `JSON.stringify({ time, level, message, ...fields })` gives (fields with `undefined` are left
 * out; an integer-like field name would come after `message` rather than first).
 * Built by splicing `JSON.stringify(fields)` in, with the time from a per-second cache: the
 * spread object and `toISOString()` were most of an access-log line's cost (bench/README.md).
 * A field named `time`, `level` or `message` comes out twice; JSON parsers keep the last one.
 */
export function formatLogLine(
  timeMs: number,
  level: string,
  message: string,
  fields?: LogFields,
): string {
  const head = `{"time":"${isoTime(timeMs)}","level":${JSON.stringify(level)},"message":${
    JSON.stringify(message)
  }`;
  const rest = fields == null ? "{}" : JSON.stringify(fields);
  return rest === "{}" ? head + "}" : head + "," + rest.slice(1);
}

let cachedSecond = NaN;
let cachedSecondPrefix = "";

/** `new Date(ms).toISOString()`, with the text up to the second reused while it stays the same. */
function isoTime(ms: number): string {
  const whole = Math.trunc(ms); // as Date does
  const second = Math.floor(whole / 1000);
  const millis = whole - second * 1000;
  if (second !== cachedSecond) {
    // "2026-11-27T09:06:40.000Z" without its "000Z"; any year format toISOString uses works.
    // Computed before the cache changes: an invalid time throws and leaves the cache as it was.
    const prefix = new Date(second * 1000).toISOString().slice(0, -4);
    cachedSecond = second;
    cachedSecondPrefix = prefix;
  }
  return cachedSecondPrefix + (millis < 10 ? "00" : millis < 100 ? "0" : "") + millis + "Z";
}

let pendingLines: string[] = [];
let flushScheduled = false;
let flushOnUnload = false;

/**
 * Writes the buffered info lines to standard output now, in one `console.log` call.
 * `console.log` costs about 10 us a call however short the line (an access-log line a request
 * made it a fifth of a session-checked page's own work); one call for the lines of an
 * event-loop turn costs about 1.5 us a line. Still `console.log`, so `deno serve --parallel`
 * keeps putting its `[serve-worker-N ]` prefix in front of each batch (one worker's lines).
 */
export function flushLog(): void {
  flushScheduled = false;
  if (pendingLines.length === 0) return;
  const text = pendingLines.join("\n");
  pendingLines = [];
  console.log(text);
}

/**
 * Logs JSON lines to standard output and standard error. Info lines are written at the end of
 * the event-loop turn (or every 256 lines, and at exit); errors are written at once.
 */
export const consoleLogger: Logger = {
  info(message, fields) {
    pendingLines.push(formatLogLine(Date.now(), "info", message, fields));
    if (!flushOnUnload) {
      // Registered at the first line, so it runs after main.ts's own unload listener.
      flushOnUnload = true;
      globalThis.addEventListener("unload", flushLog);
    }
    if (pendingLines.length >= 256) flushLog();
    else if (!flushScheduled) {
      flushScheduled = true;
      setTimeout(flushLog, 0);
    }
  },
  error(message, fields) {
    flushLog(); // keep the order of lines
    console.error(formatLogLine(Date.now(), "error", message, fields));
  },
};

/** A logger that keeps its lines in memory, for tests. */
export function memoryLogger(): Logger & {
  lines: ({ level: string; message: string } & LogFields)[];
} {
  const lines: ({ level: string; message: string } & LogFields)[] = [];
  return {
    lines,
    info: (message, fields) => void lines.push({ level: "info", message, ...fields }),
    error: (message, fields) => void lines.push({ level: "error", message, ...fields }),
  };
}
