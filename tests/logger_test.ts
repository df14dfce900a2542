import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { formatLogLine, type LogFields } from "../src/logger.ts";

/** What a log line must equal: the plain JSON.stringify of the spread object. */
function reference(timeMs: number, level: string, message: string, fields?: LogFields): string {
  return JSON.stringify({ time: new Date(timeMs).toISOString(), level, message, ...fields });
}

Deno.test("formatLogLine gives the text JSON.stringify gives, fields in order", () => {
  const time = Date.UTC(2026, 10, 27, 9, 6, 40, 427);
  const cases: [string, string, LogFields | undefined][] = [
    ["info", "request", {
      requestId: "d5df11ee-397e-4d09-a060-eca7238984b7",
      method: "GET",
      path: "/dashboard",
      status: 200,
      durationMs: 4.6,
      session: "valid",
    }],
    ["info", "listening", undefined],
    ["info", "empty", {}],
    ["error", "unhandled error", { stack: 'Error: "x"\n    at <anonymous>\t\u0000\u2028 é 😀' }],
    ["info", 'quote " and \\ in message', { a: null, b: true, c: false, d: -0.5, e: 1e21 }],
    ["info", "undefined fields are left out", {
      gone: undefined,
      kept: "yes",
      alsoGone: undefined,
    }],
    ["info", "lone surrogate", { text: "\ud800" }],
  ];
  for (const [level, message, fields] of cases) {
    strictEqual(
      formatLogLine(time, level, message, fields),
      reference(time, level, message, fields),
    );
  }
});

Deno.test("formatLogLine's time is right across seconds, milliseconds and going back", () => {
  const base = Date.UTC(2026, 0, 1, 23, 59, 58);
  const times = [
    base,
    base + 1,
    base + 9,
    base + 10,
    base + 99,
    base + 100,
    base + 999,
    base + 1000,
    base + 2001, // next day and year boundary crossed below
    base - 1,
    base + 5,
    Date.UTC(2099, 11, 31, 23, 59, 59, 999),
    0,
    Date.UTC(1969, 11, 31, 23, 59, 59, 1),
  ];
  for (const time of times) {
    const line = JSON.parse(formatLogLine(time, "info", "tick"));
    strictEqual(line.time, new Date(time).toISOString(), `time ${time}`);
  }
});

Deno.test("a field named like a fixed key comes out twice, and parsers keep the field's value", () => {
  const line = formatLogLine(0, "info", "m", { message: "override" });
  deepStrictEqual(JSON.parse(line), JSON.parse(reference(0, "info", "m", { message: "override" })));
});
