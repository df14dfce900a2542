/**
 * Tests for `src/cookies.ts`: lenient reading (`parseCookies`), strict writing
 * (`serializeCookie`), the `Headers` helpers (`appendSetCookie`, `deleteCookie`), a seeded
 * round-trip property test, and an acceptance test against tough-cookie, an RFC 6265 cookie jar
 * written by others.
 */
import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { CookieJar } from "npm:tough-cookie@6";
import {
  appendSetCookie,
  type CookieOptions,
  deleteCookie,
  getCookie,
  MAX_COOKIE_AGE_SECONDS,
  MAX_NAME_VALUE_BYTES,
  parseCookies,
  serializeCookie,
} from "@kvsession/hono/cookies";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

type ErrorClass = typeof SyntaxError | typeof RangeError | typeof TypeError;

/** A bad input for `serializeCookie`, with the error it must raise. */
interface BadCase {
  label: string;
  name: string;
  value?: string;
  options?: CookieOptions;
  error: ErrorClass;
  message: RegExp;
}

/** A null-prototype record, so `deepStrictEqual` also checks `parseCookies`' prototype. */
function cookies(entries: Record<string, string> = {}): Record<string, string> {
  return Object.assign(Object.create(null), entries);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The exact message `serializeCookie` gives for cookie `name`, as an anchored RegExp. */
function failure(name: string, detail: string): RegExp {
  return new RegExp(
    `^${escapeRegExp(`Cannot serialize cookie ${JSON.stringify(name)}: ${detail}`)}$`,
  );
}

/** Shows control, non-ASCII and space characters as `U+XXXX` so step names stay readable. */
function visible(text: string): string {
  return [...text].map((char) => {
    const code = char.codePointAt(0)!;
    return code > 0x20 && code < 0x7f
      ? char
      : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  }).join("");
}

function assertThrowsError(fn: () => unknown, errorClass: ErrorClass, message: RegExp): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    strictEqual(error.constructor, errorClass);
    match(error.message, message);
    return true;
  });
}

async function assertBadCases(t: Deno.TestContext, cases: BadCase[]): Promise<void> {
  for (const { label, name, value = "v", options, error, message } of cases) {
    await t.step(label, () => {
      assertThrowsError(() => serializeCookie(name, value, options), error, message);
    });
  }
}

/** mulberry32: a tiny seeded PRNG, so a failing property run can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** RFC 9110 5.6.2 tchar: every character a cookie name may hold. */
const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** RFC 9110 5.6.2 delimiters (plus space) that must never appear in a cookie name. */
const SEPARATORS = [...'()<>@,;:\\"/[]?={} '];

// ---------------------------------------------------------------------------------------------
// parseCookies
// ---------------------------------------------------------------------------------------------

Deno.test("parseCookies() never throws on any input", async (t) => {
  const percents = "%".repeat(1 << 20);
  const inputs: [string, unknown, Record<string, string>][] = [
    ["null", null, {}],
    ["undefined", undefined, {}],
    ["an empty string", "", {}],
    ["a number", 42, {}],
    ["an object", { sid: "x" }, {}],
    ["an array", ["sid=x"], {}],
    ["a symbol", Symbol("sid"), {}],
    ["only separators", ";;; ; ;", {}],
    ["only '='", "====", {}],
    ["1 MiB of one character", "x".repeat(1 << 20), {}],
    ["1 MiB of '%'", `a=${percents}`, { a: percents }],
    ["200,000 copies of one pair", "k=v; ".repeat(200_000), { k: "v" }],
  ];
  for (const [label, input, expected] of inputs) {
    await t.step(label, () => {
      deepStrictEqual(parseCookies(input as string), cookies(expected));
    });
  }

  await t.step("2,000 strings of random UTF-16 code units (lone surrogates included)", () => {
    const seed = 0xc00c1e;
    const random = mulberry32(seed);
    const pick = [0x3b, 0x3d, 0x22, 0x25, 0x20, 0x09, 0x61]; // ; = " % space tab a
    for (let i = 0; i < 2_000; i++) {
      const units = Array.from(
        { length: Math.floor(random() * 64) },
        () =>
          random() < 0.5
            ? pick[Math.floor(random() * pick.length)]!
            : Math.floor(random() * 0x10000),
      );
      const header = String.fromCharCode(...units);
      let result: Record<string, string>;
      try {
        result = parseCookies(header);
      } catch (error) {
        throw new Error(`parseCookies() threw on input ${i} of seed ${seed}`, { cause: error });
      }
      strictEqual(Object.getPrototypeOf(result), null, `seed ${seed}, input ${i}`);
      for (const value of Object.values(result)) strictEqual(typeof value, "string");
    }
  });
});

Deno.test("parseCookies() returns an empty null-prototype object for an absent header", () => {
  deepStrictEqual(parseCookies(null), cookies());
  deepStrictEqual(parseCookies(undefined), cookies());
  deepStrictEqual(parseCookies(""), cookies());
});

Deno.test("parseCookies() splits pairs on ';'", () => {
  deepStrictEqual(parseCookies("a=1;b=2; c=3"), cookies({ a: "1", b: "2", c: "3" }));
  deepStrictEqual(parseCookies("sid=abc"), cookies({ sid: "abc" }));
  deepStrictEqual(parseCookies("a=1;"), cookies({ a: "1" }));
  deepStrictEqual(parseCookies(";a=1;;b=2;"), cookies({ a: "1", b: "2" }));
});

Deno.test("parseCookies() trims spaces and tabs only from names and values", async (t) => {
  await t.step("spaces and tabs are trimmed", () => {
    deepStrictEqual(
      parseCookies("  a = 1 ;\tb\t=\t2\t; \t c \t= \t3"),
      cookies({ a: "1", b: "2", c: "3" }),
    );
  });

  await t.step("inner spaces of a value are kept", () => {
    deepStrictEqual(parseCookies("a= x  y "), cookies({ a: "x  y" }));
  });

  for (const space of ["\u00A0", "\u2003", "\u3000", "\uFEFF", "\n", "\r", "\v", "\f"]) {
    await t.step(`${visible(space)} is not trimmed`, () => {
      deepStrictEqual(
        parseCookies(`${space}__Host-sid=x; __Host-sid=y; v=${space}z${space}`),
        cookies({ [`${space}__Host-sid`]: "x", "__Host-sid": "y", v: `${space}z${space}` }),
      );
    });
  }
});

Deno.test("parseCookies() skips a pair without '=' or with an empty name", () => {
  deepStrictEqual(parseCookies("a; b=2; =3;  = 4; \t=5; c"), cookies({ b: "2" }));
  deepStrictEqual(parseCookies("flag"), cookies());
  deepStrictEqual(parseCookies("=x"), cookies());
  // Pairs without "=" before and after a real one: the "=" search must not skip ahead.
  deepStrictEqual(
    parseCookies(";".repeat(10_000) + "a=1;" + "x;".repeat(10_000) + "b=2"),
    cookies({ a: "1", b: "2" }),
  );
  deepStrictEqual(parseCookies("x; y; a=1; z; b=c=d; e"), cookies({ a: "1", b: "c=d" }));
});

Deno.test("parseCookies() keeps '=' inside a value", () => {
  deepStrictEqual(
    parseCookies("token=YWJj==; q=a=b=c; e="),
    cookies({ token: "YWJj==", q: "a=b=c", e: "" }),
  );
});

Deno.test("parseCookies() keeps the first of duplicate names", () => {
  deepStrictEqual(parseCookies("sid=first; sid=second"), cookies({ sid: "first" }));
  deepStrictEqual(parseCookies(" sid = first ;sid=second"), cookies({ sid: "first" }));
  deepStrictEqual(parseCookies("sid=; sid=second"), cookies({ sid: "" }));
  deepStrictEqual(parseCookies("sid=%zz; sid=ok"), cookies({ sid: "%zz" }));
});

Deno.test("parseCookies() removes one pair of surrounding double quotes", async (t) => {
  const cases: [string, string][] = [
    ['"dark"', "dark"],
    ['""', ""],
    ['"a b"', "a b"],
    [' "padded" ', "padded"],
    ['""twice""', '"twice"'],
    ['"', '"'],
    ['"open', '"open'],
    ['close"', 'close"'],
    ['in"side', 'in"side'],
    ['"%20"', " "],
  ];
  for (const [raw, expected] of cases) {
    await t.step(`theme=${raw}`, () => {
      deepStrictEqual(parseCookies(`theme=${raw}`), cookies({ theme: expected }));
    });
  }
});

Deno.test("parseCookies() decodes percent-escapes", () => {
  deepStrictEqual(
    parseCookies("a=%20b%3Bc%3D; e=caf%C3%A9; c=%F0%9F%8D%AA; p=a+b"),
    cookies({ a: " b;c=", e: "café", c: "🍪", p: "a+b" }),
  );
});

Deno.test("parseCookies() decodes exactly the values that hold a '%'", async (t) => {
  // The parser remembers where the next '%' is instead of searching every value: a '%' in a
  // name, in a skipped pair or in a shadowed duplicate must not hide a later one. (Decoding a
  // value without '%' would change nothing visible; the scan test below covers the cost.)
  const cases: [string, Record<string, string>][] = [
    ["%a=%41; b=%42", { "%a": "A", b: "B" }],
    ["%a=1; b=%41", { "%a": "1", b: "A" }],
    ["a=1; b=2%; c=%41", { a: "1", b: "2%", c: "A" }],
    ["a=%41; a=%42; b=%43", { a: "A", b: "C" }],
    ["a=1; a=%42; b=x; c=%43", { a: "1", b: "x", c: "C" }],
    ["%; a=%41; %%; b=1; c=%43", { a: "A", b: "1", c: "C" }],
    ['a="%41"; b=%42', { a: "A", b: "B" }],
    ["a=%4; b=1%41", { a: "%4", b: "1A" }],
    ["a=x;b=%41", { a: "x", b: "A" }],
    ["a=%41;b=x", { a: "A", b: "x" }],
  ];
  for (const [header, expected] of cases) {
    await t.step(header, () => deepStrictEqual(parseCookies(header), cookies(expected)));
  }
});

Deno.test("parseCookies() leaves a value with a malformed escape as it was", async (t) => {
  for (const raw of ["%E0%A4%A", "%zz", "%", "100%", "%C3", "%ED%A0%80", "ok%20then%"]) {
    await t.step(raw, () => {
      deepStrictEqual(parseCookies(`bad=${raw}; good=%20`), cookies({ bad: raw, good: " " }));
    });
  }
  await t.step("inside quotes", () => {
    deepStrictEqual(parseCookies('bad="%zz"'), cookies({ bad: "%zz" }));
  });
});

Deno.test("parseCookies() returns a null-prototype object", async (t) => {
  await t.step("prototype names are ordinary cookie names", () => {
    const result = parseCookies(
      "__proto__=p; constructor=c; toString=t; hasOwnProperty=h; valueOf=v",
    );
    strictEqual(Object.getPrototypeOf(result), null);
    deepStrictEqual(Object.keys(result), [
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "valueOf",
    ]);
    strictEqual(result["__proto__"], "p");
    strictEqual(result.constructor, "c");
    strictEqual(result.toString, "t");
    strictEqual(result.hasOwnProperty, "h");
    strictEqual(result.valueOf, "v");
  });

  await t.step("absent names read undefined", () => {
    const result = parseCookies("sid=abc");
    strictEqual(Object.getPrototypeOf(result), null);
    strictEqual(result.constructor, undefined);
    strictEqual(result.toString, undefined);
    strictEqual(result["__proto__"], undefined);
    strictEqual("toString" in result, false);
  });

  await t.step("'__proto__=x' does not pollute any prototype", () => {
    const result = parseCookies("__proto__=polluted; a=1");
    strictEqual(Object.getPrototypeOf(result), null);
    strictEqual(Object.hasOwn(result, "__proto__"), true);
    strictEqual(result.a, "1");
    strictEqual(Object.hasOwn(Object.prototype, "polluted"), false);
    strictEqual(({} as Record<string, unknown>).polluted, undefined);
    strictEqual(Object.getPrototypeOf({}), Object.prototype);
  });
});

Deno.test("parseCookies() reads the header a bounded number of times over", async (t) => {
  // Attacker input: the work must grow linearly with the header. Counted, not timed: every
  // String.prototype.indexOf call adds the characters it scanned. Searching afresh from each
  // pair (for '=' or '%') scans the rest of the header once a pair, which is quadratic.
  const original = String.prototype.indexOf;
  const originalCharCodeAt = String.prototype.charCodeAt;
  let scanned = 0;
  function countingIndexOf(this: string, search: string, from = 0): number {
    const found = original.call(this, search, from);
    scanned += (found === -1 ? this.length : found + search.length) - Math.max(0, from);
    return found;
  }
  // Character-by-character scans (trimming, the checks around a name) count one each.
  function countingCharCodeAt(this: string, index: number): number {
    scanned++;
    return originalCharCodeAt.call(this, index);
  }
  const pairs = (count: number, value: (i: number) => string) =>
    Array.from({ length: count }, (_, i) => `c${i}=${value(i)}`).join("; ");
  // Distinct names: a repeated name is skipped before its value is looked at.
  const headers: [string, string][] = [
    ["pairs without '%'", pairs(20_000, () => "1")],
    ["pairs, then one '%' at the end", pairs(20_000, () => "1") + "; b=%41"],
    ["a '%' in the first name, pairs after it", "%a=1; " + pairs(20_000, () => "2")],
    ["pairs without '=', then one", "a;".repeat(20_000) + "b=1"],
    ["every third value escaped", pairs(20_000, (i) => (i % 3 ? "v" : "%20"))],
    ["a name inside many other names", pairs(20_000, () => "1").replaceAll("=", "c0x=")],
    ["a name repeated without separators", "c0x".repeat(20_000) + "=1"],
    ["a name between runs of spaces", (" ".repeat(100) + "c0x").repeat(200) + "=1"],
    ["runs of spaces around pairs", pairs(2_000, () => " ".repeat(20) + "v" + " ".repeat(20))],
  ];
  for (const [label, header] of headers) {
    await t.step(label, () => {
      for (const read of [() => parseCookies(header), () => getCookie(header, "c0x")]) {
        scanned = 0;
        String.prototype.indexOf = countingIndexOf;
        String.prototype.charCodeAt = countingCharCodeAt;
        try {
          read();
        } finally {
          String.prototype.indexOf = original;
          String.prototype.charCodeAt = originalCharCodeAt;
        }
        // At least once (else this test no longer sees the scans), at most a few times.
        ok(scanned >= header.length, `${read}: scanned ${scanned} of ${header.length} characters`);
        ok(scanned <= 4 * header.length, `${read}: scanned ${scanned} for ${header.length}`);
      }
    });
  }
});

Deno.test("getCookie() gives what parseCookies() gives for that name", async (t) => {
  await t.step("cases", () => {
    const cases: [string, string, string | undefined][] = [
      ["sid=abc", "sid", "abc"],
      ["theme=dark; sid=abc; sid=shadowed", "sid", "abc"],
      [" sid = abc ;", "sid", "abc"],
      ['\tsid\t=\t"%41"\t', "sid", "A"],
      ["sid=%zz; sid=ok", "sid", "%zz"],
      ["sid; sid=1", "sid", "1"],
      ["xsid=1; sidx=2; sid", "sid", undefined],
      ["x=sid=1; sid=2", "sid", "2"],
      ["a=1 sid=2", "sid", undefined],
      ["\u00A0sid=1; sid=2", "sid", "2"],
      ["sid=", "sid", ""],
      ["sid=a=b", "sid", "a=b"],
      ["__proto__=p", "__proto__", "p"],
      ["a=1", "toString", undefined],
      ["sid=1", "", undefined],
      ["sid=1", " sid", undefined],
      [" sid=1", " sid", undefined],
      ["sid =1", "sid ", undefined],
      ["sid\t=1", "sid\t", undefined],
      ["a=b=c", "a=b", undefined],
      ["a;b=1", "a;b", undefined],
    ];
    for (const [header, name, expected] of cases) {
      strictEqual(getCookie(header, name), expected, `${visible(header)} / ${visible(name)}`);
      strictEqual(parseCookies(header)[name], expected, `parseCookies: ${visible(header)}`);
    }
    strictEqual(getCookie(null, "sid"), undefined);
    strictEqual(getCookie(undefined, "sid"), undefined);
    strictEqual(getCookie(42 as unknown as string, "sid"), undefined);
  });

  await t.step("20,000 random headers, differential against parseCookies()", () => {
    const seed = 0x6e7c00c1;
    const random = mulberry32(seed);
    const parts = ["sid", "s", "id", "%", "%41", "%zz", "=", ";", " ", "\t", '"', "a", "\u00A0"];
    // Names parseCookies can return, and names it never can (edge space or tab, "=", ";").
    const names = [
      "sid",
      "s",
      "id",
      "a",
      "%",
      "sida",
      "\u00A0sid",
      " sid",
      "sid ",
      "\ta",
      "a=",
      ";a",
    ];
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(random() * 16);
      const header = Array.from({ length }, () => parts[Math.floor(random() * parts.length)]!)
        .join("");
      const parsed = parseCookies(header);
      for (const name of names) {
        strictEqual(
          getCookie(header, name),
          parsed[name],
          `seed ${seed}, input ${i}: ${visible(header)} / ${visible(name)}`,
        );
      }
    }
  });
});

Deno.test("getCookie() decodes only the value it returns", () => {
  // A header of thousands of malformed escapes costs parseCookies() an exception each; a
  // request that needs one cookie should not pay for them.
  const header = Array.from({ length: 5_000 }, (_, i) => `c${i}=%`).join("; ") + "; sid=%41";
  const original = globalThis.decodeURIComponent;
  let calls = 0;
  globalThis.decodeURIComponent = (text: string) => {
    calls++;
    return original(text);
  };
  try {
    strictEqual(getCookie(header, "sid"), "A");
    strictEqual(calls, 1);
    calls = 0;
    strictEqual(parseCookies(header).sid, "A");
    strictEqual(calls, 5_001);
  } finally {
    globalThis.decodeURIComponent = original;
  }
});

Deno.test("parseCookies() parses 10,000 pairs", () => {
  // Speed is measured by the benchmark, not here: tests assert no timings.
  const header = Array.from({ length: 10_000 }, (_, i) => `c${i}=v${i}`).join("; ");
  const result = parseCookies(header);
  strictEqual(Object.keys(result).length, 10_000);
  strictEqual(result.c0, "v0");
  strictEqual(result.c5000, "v5000");
  strictEqual(result.c9999, "v9999");
});

// ---------------------------------------------------------------------------------------------
// serializeCookie: what it writes
// ---------------------------------------------------------------------------------------------

Deno.test("serializeCookie() writes name=value alone when no options are given", () => {
  strictEqual(serializeCookie("sid", "abc"), "sid=abc");
  strictEqual(serializeCookie("sid", "abc", {}), "sid=abc");
  strictEqual(serializeCookie("sid", ""), "sid=");
});

Deno.test("serializeCookie() percent-encodes the value", () => {
  strictEqual(
    serializeCookie("v", 'a b;c=d"e%f,g\\h🍪'),
    "v=a%20b%3Bc%3Dd%22e%25f%2Cg%5Ch%F0%9F%8D%AA",
  );
});

Deno.test("serializeCookie() accepts every RFC 9110 token character in a name", () => {
  strictEqual(serializeCookie(TCHARS, "1"), `${TCHARS}=1`);
});

Deno.test("serializeCookie() writes each attribute exactly", async (t) => {
  const cases: [string, CookieOptions, string][] = [
    ["Max-Age=0", { maxAge: 0 }, "sid=abc; Max-Age=0"],
    ["Max-Age=86400", { maxAge: 86400 }, "sid=abc; Max-Age=86400"],
    ["Max-Age of 400 days", { maxAge: 34560000 }, "sid=abc; Max-Age=34560000"],
    [
      "Expires at the epoch",
      { expires: new Date(0) },
      "sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
    [
      "Expires drops milliseconds",
      { expires: new Date(Date.UTC(2030, 11, 31, 23, 59, 59, 999)) },
      "sid=abc; Expires=Tue, 31 Dec 2030 23:59:59 GMT",
    ],
    ["Domain", { domain: "shop.example" }, "sid=abc; Domain=shop.example"],
    ["Path=/", { path: "/" }, "sid=abc; Path=/"],
    ["Path=/app/cart", { path: "/app/cart" }, "sid=abc; Path=/app/cart"],
    ["Secure", { secure: true }, "sid=abc; Secure"],
    ["HttpOnly", { httpOnly: true }, "sid=abc; HttpOnly"],
    ["SameSite=Strict", { sameSite: "Strict" }, "sid=abc; SameSite=Strict"],
    ["SameSite=strict", { sameSite: "strict" }, "sid=abc; SameSite=Strict"],
    ["SameSite=Lax", { sameSite: "Lax" }, "sid=abc; SameSite=Lax"],
    ["SameSite=lax", { sameSite: "lax" }, "sid=abc; SameSite=Lax"],
    ["SameSite=LAX", { sameSite: "LAX" as "Lax" }, "sid=abc; SameSite=Lax"],
    ["SameSite=None", { sameSite: "None", secure: true }, "sid=abc; Secure; SameSite=None"],
    [
      "SameSite=nOnE",
      { sameSite: "nOnE" as "None", secure: true },
      "sid=abc; Secure; SameSite=None",
    ],
    ["Partitioned", { partitioned: true, secure: true }, "sid=abc; Secure; Partitioned"],
  ];
  for (const [label, options, expected] of cases) {
    await t.step(label, () => strictEqual(serializeCookie("sid", "abc", options), expected));
  }
});

Deno.test("serializeCookie() emits only the attributes given", async (t) => {
  const cases: [string, CookieOptions][] = [
    ["false flags", { secure: false, httpOnly: false, partitioned: false }],
    [
      "undefined options",
      {
        maxAge: undefined,
        expires: undefined,
        domain: undefined,
        path: undefined,
        secure: undefined,
        httpOnly: undefined,
        sameSite: undefined,
        partitioned: undefined,
      },
    ],
  ];
  for (const [label, options] of cases) {
    await t.step(label, () => strictEqual(serializeCookie("sid", "abc", options), "sid=abc"));
  }
});

Deno.test("serializeCookie() emits attributes in a fixed order", () => {
  strictEqual(
    serializeCookie("sid", "abc", {
      partitioned: true,
      sameSite: "none",
      httpOnly: true,
      secure: true,
      path: "/",
      domain: "shop.example",
      expires: new Date(0),
      maxAge: 60,
    }),
    "sid=abc; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=shop.example; Path=/; " +
      "Secure; HttpOnly; SameSite=None; Partitioned",
  );
});

Deno.test("serializeCookie() accepts cookie prefixes whose rules are met", () => {
  strictEqual(
    serializeCookie("__Host-sid", "abc", { path: "/", secure: true, httpOnly: true }),
    "__Host-sid=abc; Path=/; Secure; HttpOnly",
  );
  strictEqual(
    serializeCookie("__Secure-sid", "abc", { domain: "shop.example", path: "/a", secure: true }),
    "__Secure-sid=abc; Domain=shop.example; Path=/a; Secure",
  );
  // Only the exact prefix counts: these are ordinary names.
  strictEqual(serializeCookie("__Host", "abc"), "__Host=abc");
  strictEqual(serializeCookie("x__Host-sid", "abc"), "x__Host-sid=abc");
  strictEqual(serializeCookie("__Securesid", "abc"), "__Securesid=abc");
});

Deno.test("serializeCookie() accepts the size limits exactly", () => {
  const name = "a";
  const value = "x".repeat(MAX_NAME_VALUE_BYTES - name.length);
  strictEqual(serializeCookie(name, value), `a=${value}`);
  // "é" encodes to the 6 bytes "%C3%A9": 1 + 682 * 6 = 4093 bytes.
  strictEqual(serializeCookie(name, "é".repeat(682)).length, 2 + 682 * 6);
  const path = `/${"p".repeat(1023)}`;
  strictEqual(serializeCookie("sid", "v", { path }), `sid=v; Path=${path}`);
  // A host name's limits (RFC 1034 3.1): 63-character labels, 253 characters in all, plus the
  // leading dot browsers ignore.
  const domain = `.${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(61)}`;
  strictEqual(domain.length, 254);
  strictEqual(serializeCookie("sid", "v", { domain }), `sid=v; Domain=${domain}`);
});

Deno.test("serializeCookie() never mutates the options object", async (t) => {
  await t.step("all attributes", () => {
    const options: CookieOptions = {
      maxAge: 60,
      expires: new Date(0),
      domain: "shop.example",
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "none",
      partitioned: true,
    };
    const copy = structuredClone(options);
    strictEqual(
      serializeCookie("sid", "abc", Object.freeze(options)),
      "sid=abc; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=shop.example; Path=/; " +
        "Secure; HttpOnly; SameSite=None; Partitioned",
    );
    deepStrictEqual(options, copy);
  });

  await t.step("a __Host- cookie", () => {
    const options: CookieOptions = { path: "/", secure: true, sameSite: "lax" };
    const copy = structuredClone(options);
    strictEqual(
      serializeCookie("__Host-sid", "abc", Object.freeze(options)),
      "__Host-sid=abc; Path=/; Secure; SameSite=Lax",
    );
    deepStrictEqual(options, copy);
  });

  await t.step("options that throw", () => {
    const options: CookieOptions = { path: "/app", secure: true };
    const copy = structuredClone(options);
    assertThrowsError(
      () => serializeCookie("__Host-sid", "abc", Object.freeze(options)),
      TypeError,
      failure("__Host-sid", "the __Host- prefix requires Path=/"),
    );
    deepStrictEqual(options, copy);
  });
});

// ---------------------------------------------------------------------------------------------
// serializeCookie: what it rejects
// ---------------------------------------------------------------------------------------------

Deno.test("serializeCookie() rejects a name that is not an RFC 9110 token", async (t) => {
  const names: [string, string][] = [
    ["an empty name", ""],
    ...SEPARATORS.map((
      char,
    ): [string, string] => [`a name with ${JSON.stringify(char)}`, `a${char}b`]),
    ...["\x00", "\x01", "\t", "\n", "\r", "\x1F", "\x7F"].map((char): [string, string] => [
      `a name with ${visible(char)}`,
      `a${char}b`,
    ]),
    ["a name with U+00A0", "\u00A0sid"],
    ["a name with é", "café"],
    ["a name with an astral character", "🍪"],
  ];
  await assertBadCases(
    t,
    names.map(([label, name]) => ({
      label,
      name,
      error: SyntaxError,
      message: failure(name, "name is not an RFC 9110 token"),
    })),
  );
});

Deno.test("serializeCookie() rejects ';', controls and non-ASCII in Path and Domain", async (t) => {
  const bad = [
    "a;b",
    "a\rb",
    "a\nb",
    "a\r\nSet-Cookie: x=y",
    "a\x00b",
    "a\tb",
    "a\x7Fb",
    "é",
    "🍪",
  ];
  const cases: BadCase[] = [];
  for (const attribute of ["Path", "Domain"] as const) {
    for (const text of bad) {
      cases.push({
        label: `${attribute} with ${visible(text)}`,
        name: "sid",
        options: attribute === "Path" ? { path: `/${text}` } : { domain: `${text}.example` },
        error: SyntaxError,
        message: failure(
          "sid",
          `${attribute} ${
            JSON.stringify(attribute === "Path" ? `/${text}` : `${text}.example`)
          } contains ";", a control or a non-ASCII character`,
        ),
      });
    }
  }
  await assertBadCases(t, cases);
});

Deno.test("serializeCookie() rejects an empty Domain and a Path not starting with '/'", async (t) => {
  await assertBadCases(t, [
    {
      label: "empty Domain",
      name: "sid",
      options: { domain: "" },
      error: SyntaxError,
      message: failure("sid", "Domain is empty"),
    },
    {
      label: "relative Path",
      name: "sid",
      options: { path: "account" },
      error: SyntaxError,
      message: failure("sid", 'Path "account" does not start with "/"'),
    },
    {
      label: "empty Path",
      name: "sid",
      options: { path: "" },
      error: SyntaxError,
      message: failure("sid", 'Path "" does not start with "/"'),
    },
  ]);
});

Deno.test("serializeCookie() accepts a Domain that is a host name", async (t) => {
  const cases: [string, string][] = [
    ["a registrable domain", "example.com"],
    ["a subdomain", "shop.example.com"],
    ["a single label", "localhost"],
    ["a leading dot (browsers ignore it)", ".example.com"],
    ["upper case", "Shop.EXAMPLE.com"],
    ["hyphens inside labels", "my-shop.example-1.com"],
    ["digits in labels and a leading digit", "1shop.3com.example"],
    ["an IDN as punycode A-labels", "xn--bcher-kva.example"],
    ["a 63-character label", `${"a".repeat(63)}.example`],
    [
      "a 253-character name",
      `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
    ],
    ["a number in a label that is not the last", "123.example"],
  ];
  for (const [label, domain] of cases) {
    await t.step(label, () => {
      strictEqual(serializeCookie("sid", "v", { domain }), `sid=v; Domain=${domain}`);
    });
  }
});

Deno.test("serializeCookie() rejects a Domain that is not a host name", async (t) => {
  const only = "only letters, digits, hyphens and dots are allowed";
  const hyphen = (label: string) => `label ${JSON.stringify(label)} starts or ends with a hyphen`;
  const ip = "it ends in a number, so browsers read it as an IP address";
  const cases: [string, string, string][] = [
    ["a space", "exa mple.com", only],
    ["an underscore", "my_shop.example", only],
    ["an @", "user@example.com", only],
    ["a /", "example.com/path", only],
    ["a port", "example.com:8443", only],
    ["a scheme", "https://example.com", only],
    ["an IPv6 literal", "[::1]", only],
    ["a bare IPv6 address", "::1", only],
    ["a comma", "a.example,b.example", only],
    ["a quote", '"example.com"', only],
    ["a backslash", "example\\.com", only],
    ["an asterisk", "*.example.com", only],
    ["a double leading dot", "..example.com", "it has an empty label"],
    ["a lone dot", ".", "it has an empty label"],
    ["an empty label inside", "shop..example", "it has an empty label"],
    ["a trailing dot", "example.com.", "it has an empty label"],
    ["a label starting with a hyphen", "-shop.example", hyphen("-shop")],
    ["a label ending with a hyphen", "shop-.example", hyphen("shop-")],
    ["a label that is a hyphen", "a.-.example", hyphen("-")],
    [
      "a 64-character label",
      `${"a".repeat(64)}.example`,
      `label ${JSON.stringify("a".repeat(64))} is longer than 63 characters`,
    ],
    [
      "a 254-character name",
      `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`,
      "it is longer than 253 characters",
    ],
    ["an IPv4 address", "127.0.0.1", ip],
    ["a short IPv4 address", "127.1", ip],
    ["a hexadecimal IPv4 address", "0x7f.0.0.0x1", ip],
    ["a name ending in a number", "shop.example.123", ip],
    ["a name ending in 0x", "shop.0x", ip],
    ["a number", "1", ip],
  ];
  await assertBadCases(
    t,
    cases.map(([label, domain, problem]): BadCase => ({
      label,
      name: "sid",
      options: { domain },
      error: SyntaxError,
      message: failure("sid", `Domain ${JSON.stringify(domain)} is not a host name: ${problem}`),
    })),
  );
});

Deno.test("serializeCookie() rejects a Max-Age that is not a whole number from 0 to 400 days", async (t) => {
  const maxAges: number[] = [-1, -86400, 1.5, 0.1, NaN, Infinity, -Infinity, 34560001, 1e20];
  const cases: BadCase[] = maxAges.map((maxAge) => ({
    label: `Max-Age ${maxAge}`,
    name: "sid",
    options: { maxAge },
    error: RangeError,
    message: failure(
      "sid",
      `Max-Age ${
        JSON.stringify(String(maxAge))
      } is not a whole number of seconds from 0 to ${MAX_COOKIE_AGE_SECONDS} (400 days)`,
    ),
  }));
  cases.push({
    label: "Max-Age given as a string",
    name: "sid",
    options: { maxAge: "60" as unknown as number },
    error: RangeError,
    message: failure(
      "sid",
      `Max-Age "60" is not a whole number of seconds from 0 to 34560000 (400 days)`,
    ),
  });
  await assertBadCases(t, cases);
});

Deno.test("serializeCookie() rejects an invalid Expires", async (t) => {
  await assertBadCases(t, [
    {
      label: "an Invalid Date",
      name: "sid",
      options: { expires: new Date(NaN) },
      error: RangeError,
      message: failure("sid", `Expires "Invalid Date" is not a valid Date`),
    },
    {
      label: "a timestamp instead of a Date",
      name: "sid",
      options: { expires: 0 as unknown as Date },
      error: RangeError,
      message: failure("sid", `Expires "0" is not a valid Date`),
    },
  ]);
});

Deno.test("serializeCookie() rejects an unknown SameSite", async (t) => {
  const values = ["Lox", "", " lax", "strict ", "no", "constructor", "Constructor", "true"];
  await assertBadCases(
    t,
    values.map((sameSite) => ({
      label: `SameSite=${JSON.stringify(sameSite)}`,
      name: "sid",
      options: { sameSite: sameSite as "Lax", secure: true },
      error: RangeError,
      message: failure("sid", `SameSite ${JSON.stringify(sameSite)} is not Strict, Lax or None`),
    })),
  );
});

Deno.test("serializeCookie() rejects options that need Secure without it", async (t) => {
  await assertBadCases(t, [
    {
      label: "SameSite=None",
      name: "sid",
      options: { sameSite: "None" },
      error: TypeError,
      message: failure("sid", "SameSite=None requires Secure"),
    },
    {
      label: "SameSite=none with secure: false",
      name: "sid",
      options: { sameSite: "none", secure: false },
      error: TypeError,
      message: failure("sid", "SameSite=None requires Secure"),
    },
    {
      label: "Partitioned",
      name: "sid",
      options: { partitioned: true },
      error: TypeError,
      message: failure("sid", "Partitioned requires Secure"),
    },
    {
      label: "Partitioned with SameSite=Lax",
      name: "sid",
      options: { partitioned: true, sameSite: "Lax", secure: false },
      error: TypeError,
      message: failure("sid", "Partitioned requires Secure"),
    },
  ]);
});

Deno.test("serializeCookie() enforces the __Secure- and __Host- prefix rules", async (t) => {
  const secure = (name: string, options: CookieOptions, label: string): BadCase => ({
    label,
    name,
    options,
    error: TypeError,
    message: failure(name, "the __Secure- prefix requires Secure"),
  });
  const host = (name: string, options: CookieOptions, label: string, rule: string): BadCase => ({
    label,
    name,
    options,
    error: TypeError,
    message: failure(name, `the __Host- prefix ${rule}`),
  });
  await assertBadCases(t, [
    secure("__Secure-sid", {}, "__Secure- without Secure"),
    secure("__Secure-sid", { secure: false, path: "/" }, "__Secure- with secure: false"),
    secure("__SECURE-x", { path: "/" }, "__SECURE- (upper case) without Secure"),
    secure("__secure-x", {}, "__secure- (lower case) without Secure"),
    host("__Host-sid", { path: "/" }, "__Host- without Secure", "requires Secure"),
    host("__host-x", { path: "/" }, "__host- (lower case) without Secure", "requires Secure"),
    host(
      "__Host-sid",
      { path: "/", secure: true, domain: "shop.example" },
      "__Host- with a Domain",
      "forbids Domain",
    ),
    host(
      "__HOST-x",
      { path: "/", secure: true, domain: "shop.example" },
      "__HOST- (upper case) with a Domain",
      "forbids Domain",
    ),
    host(
      "__Host-sid",
      { path: "/app", secure: true },
      "__Host- with Path=/app",
      "requires Path=/",
    ),
    host("__Host-sid", { path: "//", secure: true }, "__Host- with Path=//", "requires Path=/"),
    host("__Host-sid", { secure: true }, "__Host- without a Path", "requires Path=/"),
    host("__host-x", { secure: true, path: "/a" }, "__host- with Path=/a", "requires Path=/"),
  ]);
});

Deno.test("serializeCookie() rejects a value that is not a well-formed string", async (t) => {
  const surrogates: [string, string][] = [
    ["a lone high surrogate", "\uD800"],
    ["a lone low surrogate", "a\uDC00b"],
    ["reversed surrogates", "\uDC00\uD800"],
    ["a high surrogate at the end", "🍪\uDBFF"],
  ];
  await assertBadCases(t, [
    ...surrogates.map(([label, value]): BadCase => ({
      label,
      name: "sid",
      value,
      error: TypeError,
      message: failure("sid", "value is not well-formed Unicode (lone surrogate)"),
    })),
    {
      label: "a number",
      name: "sid",
      value: 42 as unknown as string,
      error: TypeError,
      message: failure("sid", "value must be a string, got number"),
    },
  ]);
});

Deno.test("serializeCookie() rejects a cookie over the size limits", async (t) => {
  await assertBadCases(t, [
    {
      label: "name and value over 4096 bytes",
      name: "a",
      value: "x".repeat(MAX_NAME_VALUE_BYTES),
      error: RangeError,
      message: failure("a", "name and encoded value are 4097 bytes, over the 4096-byte limit"),
    },
    {
      label: "a long name and a short value over 4096 bytes",
      name: "n".repeat(4000),
      value: "x".repeat(97),
      error: RangeError,
      message: failure(
        "n".repeat(4000),
        "name and encoded value are 4097 bytes, over the 4096-byte limit",
      ),
    },
    {
      label: "a value whose percent-encoding goes over 4096 bytes",
      name: "a",
      value: "é".repeat(683),
      error: RangeError,
      message: failure("a", "name and encoded value are 4099 bytes, over the 4096-byte limit"),
    },
    {
      label: "a Path over 1024 bytes",
      name: "sid",
      options: { path: `/${"p".repeat(1024)}` },
      error: RangeError,
      message: failure("sid", "Path is longer than 1024 bytes"),
    },
    {
      label: "a Domain over 1024 bytes",
      name: "sid",
      options: { domain: `${"d".repeat(1017)}.example` },
      error: RangeError,
      message: failure("sid", "Domain is longer than 1024 bytes"),
    },
  ]);
});

// ---------------------------------------------------------------------------------------------
// appendSetCookie and deleteCookie
// ---------------------------------------------------------------------------------------------

Deno.test("appendSetCookie() gives each cookie its own Set-Cookie header", () => {
  const headers = new Headers({ "Content-Type": "text/html" });
  appendSetCookie(headers, "__Host-sid", "abc", {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Lax",
    maxAge: 86400,
  });
  appendSetCookie(headers, "flash", "Saved!", { path: "/", httpOnly: true, sameSite: "Lax" });
  appendSetCookie(headers, "theme", "dark");
  deepStrictEqual(headers.getSetCookie(), [
    "__Host-sid=abc; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Lax",
    "flash=Saved!; Path=/; HttpOnly; SameSite=Lax",
    "theme=dark",
  ]);
  strictEqual(headers.get("Content-Type"), "text/html");
});

Deno.test("appendSetCookie() keeps only the last Set-Cookie of the same name", () => {
  const headers = new Headers();
  headers.append("Set-Cookie", "other=1; Path=/");
  appendSetCookie(headers, "a", "1", { path: "/" });
  appendSetCookie(headers, "ab", "2");
  appendSetCookie(headers, "A", "3");
  appendSetCookie(headers, "a", "4", { path: "/", httpOnly: true });
  deepStrictEqual(headers.getSetCookie(), [
    "other=1; Path=/",
    "ab=2",
    "A=3",
    "a=4; Path=/; HttpOnly",
  ]);
});

Deno.test("appendSetCookie() leaves the headers unchanged when the cookie is invalid", () => {
  const headers = new Headers();
  appendSetCookie(headers, "sid", "abc");
  assertThrowsError(
    () => appendSetCookie(headers, "sid", "def", { sameSite: "None" }),
    TypeError,
    failure("sid", "SameSite=None requires Secure"),
  );
  deepStrictEqual(headers.getSetCookie(), ["sid=abc"]);
});

Deno.test("appendSetCookie() never mutates the options object", () => {
  const options: CookieOptions = { path: "/", secure: true, sameSite: "lax", maxAge: 60 };
  const copy = structuredClone(options);
  appendSetCookie(new Headers(), "sid", "abc", Object.freeze(options));
  deepStrictEqual(options, copy);
});

Deno.test("deleteCookie() writes an empty value with Max-Age=0 and the given attributes", async (t) => {
  const cases: [string, string, Parameters<typeof deleteCookie>[2], string][] = [
    ["no attributes", "sid", undefined, "sid=; Max-Age=0"],
    ["Path", "sid", { path: "/" }, "sid=; Max-Age=0; Path=/"],
    [
      "every attribute",
      "sid",
      { domain: "shop.example", path: "/app", secure: true, httpOnly: true, sameSite: "strict" },
      "sid=; Max-Age=0; Domain=shop.example; Path=/app; Secure; HttpOnly; SameSite=Strict",
    ],
    [
      "a __Host- cookie",
      "__Host-sid",
      { path: "/", secure: true, httpOnly: true, sameSite: "Lax" },
      "__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
    ],
    [
      "a __Secure- cookie with SameSite=None",
      "__Secure-sid",
      { path: "/", secure: true, sameSite: "None" },
      "__Secure-sid=; Max-Age=0; Path=/; Secure; SameSite=None",
    ],
  ];
  for (const [label, name, options, expected] of cases) {
    await t.step(label, () => {
      const headers = new Headers();
      deleteCookie(headers, name, options);
      deepStrictEqual(headers.getSetCookie(), [expected]);
    });
  }
});

Deno.test("deleteCookie() replaces a Set-Cookie of the same name in the response", () => {
  const headers = new Headers();
  appendSetCookie(headers, "sid", "abc", { path: "/", httpOnly: true });
  appendSetCookie(headers, "flash", "bye", { path: "/" });
  deleteCookie(headers, "sid", { path: "/", httpOnly: true });
  deepStrictEqual(headers.getSetCookie(), [
    "flash=bye; Path=/",
    "sid=; Max-Age=0; Path=/; HttpOnly",
  ]);
});

Deno.test("deleteCookie() throws for a prefixed cookie without Secure", async (t) => {
  await t.step("__Host-", () => {
    const headers = new Headers();
    assertThrowsError(
      () => deleteCookie(headers, "__Host-sid", { path: "/", httpOnly: true }),
      TypeError,
      failure("__Host-sid", "the __Host- prefix requires Secure"),
    );
    deepStrictEqual(headers.getSetCookie(), []);
  });
  await t.step("__Secure-", () => {
    assertThrowsError(
      () => deleteCookie(new Headers(), "__Secure-sid", { path: "/" }),
      TypeError,
      failure("__Secure-sid", "the __Secure- prefix requires Secure"),
    );
  });
});

Deno.test("deleteCookie() never mutates the options object", () => {
  const options = { path: "/", secure: true, httpOnly: true, sameSite: "Lax" } as const;
  const copy = structuredClone(options);
  deleteCookie(new Headers(), "__Host-sid", Object.freeze(options));
  deepStrictEqual(options, copy);
});

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

/** A random well-formed string mixing ASCII, cookie syntax, controls, BMP and astral characters. */
function randomString(random: () => number, maxLength: number): string {
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const syntax = [...'; = " % , \\ \t'];
  const length = between(0, maxLength);
  let text = "";
  for (let i = 0; i < length; i++) {
    const kind = random();
    if (kind < 0.3) text += String.fromCodePoint(between(0x20, 0x7e));
    else if (kind < 0.5) text += syntax[between(0, syntax.length - 1)]!;
    else if (kind < 0.6) text += String.fromCodePoint(between(0x00, 0x1f), 0x7f);
    else if (kind < 0.7) text += String.fromCodePoint(between(0x80, 0xff));
    // BMP outside the surrogate range, so the string stays well-formed.
    else if (kind < 0.85) {
      text += String.fromCodePoint(
        random() < 0.5 ? between(0x100, 0xd7ff) : between(0xe000, 0xfffd),
      );
    } else text += String.fromCodePoint(between(0x10000, 0x10ffff));
  }
  return text;
}

function randomToken(random: () => number, index: number): string {
  const length = 1 + Math.floor(random() * 12);
  let token = "";
  for (let i = 0; i < length; i++) token += TCHARS[Math.floor(random() * TCHARS.length)];
  // The index keeps names unique; the "x" keeps clear of the __Host-/__Secure- prefixes.
  return `x${token}${index}`;
}

Deno.test("serializeCookie() output round-trips through parseCookies() for 5,000 random strings", () => {
  const seed = Number(Deno.env.get("COOKIES_TEST_SEED") ?? 0x5eed2025);
  const random = mulberry32(seed);
  const replay = (detail: string) =>
    `${detail} (seed ${seed}; replay with COOKIES_TEST_SEED=${seed})`;
  const values: string[] = ["", " ", ";", "=", '"', '""', "%", "%zz", "\x00", "🍪"];
  while (values.length < 5_000) values.push(randomString(random, 24));

  const pairs: string[] = [];
  const expected: Record<string, string> = cookies();
  for (const [index, value] of values.entries()) {
    const name = randomToken(random, index);
    let header: string;
    try {
      header = serializeCookie(name, value, { path: "/", httpOnly: true, sameSite: "Lax" });
    } catch (error) {
      throw new Error(replay(`serializeCookie() threw for ${JSON.stringify(value)}`), {
        cause: error,
      });
    }
    const pair = header.slice(0, header.indexOf("; "));
    const parsed = parseCookies(pair);
    deepStrictEqual(Object.keys(parsed), [name], replay(`names parsed from ${pair}`));
    strictEqual(
      parsed[name],
      value,
      replay(`${JSON.stringify(value)} came back as ${JSON.stringify(parsed[name])}`),
    );
    pairs.push(pair);
    expected[name] = value;
  }
  // All of them in one Cookie header, as a browser would send them.
  deepStrictEqual(parseCookies(pairs.join("; ")), expected, replay("one header of 5,000 pairs"));
});

// ---------------------------------------------------------------------------------------------
// Acceptance: tough-cookie, an RFC 6265 cookie jar written by others
// ---------------------------------------------------------------------------------------------

Deno.test("serializeCookie() output is stored intact by tough-cookie's cookie jar", async (t) => {
  // "strict" makes the jar throw on a cookie that breaks the __Host-/__Secure- prefix rules.
  const jar = new CookieJar(undefined, { prefixSecurity: "strict" });
  const local = "http://localhost/";
  const shop = "https://shop.example/";
  const special = 'a "quoted"; value=with %percent, commas, 🍪 and spaces';

  await t.step("session cookie sid over http://localhost", async () => {
    const header = serializeCookie("sid", "s3ss10n-t0ken", {
      path: "/",
      httpOnly: true,
      sameSite: "Lax",
      maxAge: 86400,
    });
    strictEqual(header, "sid=s3ss10n-t0ken; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax");
    const stored = await jar.setCookie(header, local);
    ok(stored);
    strictEqual(stored.key, "sid");
    strictEqual(stored.value, "s3ss10n-t0ken");
    strictEqual(stored.httpOnly, true);
    strictEqual(stored.secure, false);
    strictEqual(stored.sameSite, "lax");
    strictEqual(stored.path, "/");
    strictEqual(stored.maxAge, 86400);
    strictEqual(stored.hostOnly, true);
    deepStrictEqual(
      parseCookies(await jar.getCookieString(local)),
      cookies({ sid: "s3ss10n-t0ken" }),
    );
  });

  await t.step("__Host-sid with Secure over https://shop.example", async () => {
    const header = serializeCookie("__Host-sid", "h0st-t0ken", {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "lax",
      maxAge: 86400,
    });
    const stored = await jar.setCookie(header, shop);
    ok(stored);
    strictEqual(stored.key, "__Host-sid");
    strictEqual(stored.value, "h0st-t0ken");
    strictEqual(stored.secure, true);
    strictEqual(stored.httpOnly, true);
    strictEqual(stored.sameSite, "lax");
    strictEqual(stored.path, "/");
    strictEqual(stored.maxAge, 86400);
    strictEqual(stored.hostOnly, true);
    deepStrictEqual(
      parseCookies(await jar.getCookieString(shop)),
      cookies({ "__Host-sid": "h0st-t0ken" }),
    );
    // Secure: never sent over plain HTTP.
    deepStrictEqual(parseCookies(await jar.getCookieString("http://shop.example/")), cookies());
  });

  await t.step("a flash cookie and a value with special characters", async () => {
    const flash = serializeCookie("flash", "Item added to your cart ✓", {
      path: "/",
      httpOnly: true,
      sameSite: "Strict",
    });
    const odd = serializeCookie("note", special, { path: "/", maxAge: 60 });
    const storedFlash = await jar.setCookie(flash, local);
    const storedOdd = await jar.setCookie(odd, local);
    ok(storedFlash && storedOdd);
    strictEqual(storedFlash.httpOnly, true);
    strictEqual(storedFlash.sameSite, "strict");
    strictEqual(storedFlash.path, "/");
    strictEqual(storedFlash.maxAge, null);
    strictEqual(storedOdd.value, encodeURIComponent(special));
    strictEqual(storedOdd.httpOnly, false);
    strictEqual(storedOdd.maxAge, 60);
    deepStrictEqual(
      parseCookies(await jar.getCookieString(local)),
      cookies({ sid: "s3ss10n-t0ken", flash: "Item added to your cart ✓", note: special }),
    );
  });

  await t.step("a Domain, Expires, SameSite=None and Partitioned cookie", async () => {
    const expires = new Date(Date.UTC(2099, 0, 1));
    const header = serializeCookie("pref", "compact", {
      domain: "shop.example",
      path: "/",
      expires,
      secure: true,
      sameSite: "None",
      partitioned: true,
    });
    const stored = await jar.setCookie(header, "https://www.shop.example/");
    ok(stored);
    strictEqual(stored.domain, "shop.example");
    strictEqual(stored.hostOnly, false);
    ok(stored.expires instanceof Date);
    strictEqual(stored.expires.getTime(), expires.getTime());
    strictEqual(stored.sameSite, "none");
    deepStrictEqual(stored.extensions, ["Partitioned"]);
    deepStrictEqual(
      parseCookies(await jar.getCookieString(shop)),
      cookies({ "__Host-sid": "h0st-t0ken", pref: "compact" }),
    );
  });

  await t.step("deleteCookie() removes __Host-sid from the jar", async () => {
    const headers = new Headers();
    deleteCookie(headers, "__Host-sid", {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Lax",
    });
    const [header] = headers.getSetCookie();
    ok(header);
    await jar.setCookie(header, shop);
    deepStrictEqual(parseCookies(await jar.getCookieString(shop)), cookies({ pref: "compact" }));
    const remaining = (await jar.serialize()).cookies.map((cookie) => cookie.key);
    deepStrictEqual(remaining.sort(), ["flash", "note", "pref", "sid"]);
  });
});
