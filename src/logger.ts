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

/** Logs JSON lines to standard output and standard error. */
export const consoleLogger: Logger = {
  info(message, fields) {
    console.log(
      JSON.stringify({ time: new Date().toISOString(), level: "info", message, ...fields }),
    );
  },
  error(message, fields) {
    console.error(
      JSON.stringify({ time: new Date().toISOString(), level: "error", message, ...fields }),
    );
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
