import { strictEqual, throws } from "node:assert/strict";
import { Hono } from "hono";
import { isSameOriginRequest, sameOrigin, type SameOriginOptions } from "@kvsession/hono";

const request = (url: string, method: string, headers: Record<string, string>) =>
  new Request(url, { method, headers });

Deno.test("isSameOriginRequest() trusts Fetch Metadata first, then a full-origin Origin", async (t) => {
  const cases: [string, Record<string, string>, string | undefined, boolean][] = [
    ["Sec-Fetch-Site same-origin", { "Sec-Fetch-Site": "same-origin" }, undefined, true],
    ["Sec-Fetch-Site none (typed URL)", { "Sec-Fetch-Site": "none" }, undefined, true],
    ["Sec-Fetch-Site same-site", { "Sec-Fetch-Site": "same-site" }, undefined, false],
    [
      "Sec-Fetch-Site cross-site beats a matching Origin",
      {
        "Sec-Fetch-Site": "cross-site",
        Origin: "http://localhost:8000",
      },
      undefined,
      false,
    ],
    ["Origin equal to the request's", { Origin: "http://localhost:8000" }, undefined, true],
    ["Origin with another port", { Origin: "http://localhost:8001" }, undefined, false],
    ["Origin null", { Origin: "null" }, undefined, false],
    ["neither header", {}, undefined, false],
    [
      "Origin equal to the configured origin",
      {
        Origin: "https://shop.example.com",
      },
      "https://shop.example.com",
      true,
    ],
    [
      "Origin equal to the request's but not the configured one",
      {
        Origin: "http://localhost:8000",
      },
      "https://shop.example.com",
      false,
    ],
  ];
  for (const [label, headers, origin, expected] of cases) {
    await t.step(label, () => {
      strictEqual(
        isSameOriginRequest(request("http://localhost:8000/cart", "POST", headers), origin),
        expected,
      );
    });
  }
});

Deno.test("sameOrigin() refuses cross-site unsafe methods with 403 and lets safe ones through", async () => {
  const app = new Hono().use(sameOrigin()).all("/cart", (c) => c.text("ok"));
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    const res = await app.request(
      request("http://localhost/cart", method, { Origin: "https://evil.example" }),
    );
    strictEqual(res.status, 403, method);
    strictEqual(await res.text(), "Cross-site request refused");
  }
  for (const method of ["GET", "HEAD", "OPTIONS"]) {
    const res = await app.request(
      request("http://localhost/cart", method, { Origin: "https://evil.example" }),
    );
    strictEqual(res.status, 200, method);
    await res.body?.cancel();
  }
  const json = await app.request(request("http://localhost/cart", "POST", {
    "Content-Type": "application/json",
    "Sec-Fetch-Site": "cross-site",
  }));
  strictEqual(json.status, 403);
  await json.body?.cancel();
});

Deno.test("sameOrigin() compares Origin with the configured origin and uses onRejected", async () => {
  const app = new Hono()
    .use(sameOrigin({
      origin: "https://shop.example.com",
      onRejected: (c) => c.json({ error: "cross-site" }, 403),
    }))
    .post("/cart", (c) => c.text("ok"));
  const own = await app.request(
    request("http://10.0.0.5/cart", "POST", { Origin: "https://shop.example.com" }),
  );
  strictEqual(await own.text(), "ok");
  const internal = await app.request(
    request("http://10.0.0.5/cart", "POST", { Origin: "http://10.0.0.5" }),
  );
  strictEqual(internal.status, 403);
  strictEqual((await internal.json()).error, "cross-site");
});

Deno.test("sameOrigin() checks its options when it is made", async (t) => {
  const cases: [string, SameOriginOptions, string][] = [
    [
      "origin with a path",
      { origin: "https://shop.example.com/" },
      'option "origin" "https://shop.example.com/" is not an origin',
    ],
    [
      "origin not a URL",
      { origin: "shop.example.com" },
      'option "origin" "shop.example.com" is not an origin',
    ],
    [
      "origin without scheme host",
      { origin: "data:text/plain,x" },
      'option "origin" "data:text/plain,x" is not an origin',
    ],
    [
      "onRejected",
      { onRejected: 403 } as unknown as SameOriginOptions,
      'option "onRejected" must be a function',
    ],
  ];
  for (const [label, options, message] of cases) {
    await t.step(label, () => {
      throws(() => sameOrigin(options), (error: unknown) => {
        strictEqual(error instanceof TypeError, true);
        strictEqual((error as Error).message.includes(message), true, (error as Error).message);
        return true;
      });
    });
  }
});
