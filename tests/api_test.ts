import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { createTestApp, form, signUp, type TestApp, withSession } from "./_helpers.ts";

const JSON_TYPE = "application/json";
const QUANTITY_MESSAGE = "Quantity must be a whole number from 1 to 99.";
const PRODUCT_MESSAGE = "There is no such product.";

async function withShopper(fn: (app: TestApp, token: string) => Promise<void>): Promise<void> {
  const app = await createTestApp();
  try {
    await fn(app, await signUp(app));
  } finally {
    app.close();
  }
}

function postJson(
  app: TestApp,
  token: string | undefined,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const all = new Headers({ "Content-Type": JSON_TYPE, ...headers });
  if (token !== undefined) all.set("Cookie", `sid=${token}`);
  return app.request("/api/cart", { method: "POST", headers: all, body });
}

async function cartOf(app: TestApp, token: string): Promise<unknown> {
  const response = await app.request("/api/cart", { headers: withSession(token) });
  strictEqual(response.status, 200);
  return await response.json();
}

/** Asserts a JSON error response's status and exact body. */
async function assertJsonError(
  response: Response,
  status: number,
  error: string,
  message: string,
): Promise<void> {
  strictEqual(response.status, status);
  strictEqual(response.headers.get("Content-Type"), "application/json");
  deepStrictEqual(await response.json(), { error, message });
}

Deno.test("GET /api/cart without a live session answers 401 JSON", async (t) => {
  const app = await createTestApp();
  try {
    const cookies = [undefined, "sid=", "sid=" + "A".repeat(43), "sid=not-a-token"];
    for (const cookie of cookies) {
      await t.step(cookie ?? "no cookie", async () => {
        const response = await app.request("/api/cart", {
          headers: cookie ? { Cookie: cookie } : {},
        });
        strictEqual(response.headers.get("Cache-Control"), "no-store");
        await assertJsonError(response, 401, "unauthorized", "Sign in to use this endpoint.");
      });
    }
  } finally {
    app.close();
  }
});

Deno.test("GET /api/cart returns the session's cart as { items }", async () => {
  await withShopper(async (app, token) => {
    const empty = await app.request("/api/cart", { headers: withSession(token) });
    strictEqual(empty.status, 200);
    strictEqual(empty.headers.get("Content-Type"), "application/json");
    strictEqual(empty.headers.get("Cache-Control"), "no-store");
    deepStrictEqual(await empty.json(), { items: [] });

    const forms: Record<string, string>[] = [{ productId: "mug", quantity: "2" }, {
      productId: "teapot",
    }];
    for (const fields of forms) {
      const response = await app.request("/cart", {
        ...form(fields),
        headers: withSession(token, { "Content-Type": "application/x-www-form-urlencoded" }),
      });
      await response.body?.cancel();
      strictEqual(response.status, 303);
    }
    deepStrictEqual(await cartOf(app, token), {
      items: [{ productId: "mug", quantity: 2 }, { productId: "teapot", quantity: 1 }],
    });
  });
});

Deno.test("GET /api/cart is per session: another user's cart is not shown", async () => {
  await withShopper(async (app, alice) => {
    const bob = await signUp(app, "bob", "another good password", "Bob");
    const response = await postJson(app, alice, JSON.stringify({ productId: "mug" }));
    await response.body?.cancel();
    deepStrictEqual(await cartOf(app, bob), { items: [] });
    deepStrictEqual(await cartOf(app, alice), { items: [{ productId: "mug", quantity: 1 }] });
  });
});

Deno.test("POST /api/cart adds to the cart and returns the items", async (t) => {
  await withShopper(async (app, token) => {
    await t.step("with a quantity", async () => {
      const response = await postJson(
        app,
        token,
        JSON.stringify({ productId: "mug", quantity: 2 }),
      );
      strictEqual(response.status, 200);
      strictEqual(response.headers.get("Content-Type"), "application/json");
      deepStrictEqual(await response.json(), { items: [{ productId: "mug", quantity: 2 }] });
    });
    await t.step("without a quantity: one more", async () => {
      const response = await postJson(app, token, JSON.stringify({ productId: "mug" }));
      deepStrictEqual(await response.json(), { items: [{ productId: "mug", quantity: 3 }] });
    });
    await t.step("a quantity as a numeric string, with a charset parameter", async () => {
      const response = await postJson(
        app,
        token,
        JSON.stringify({ productId: "teapot", quantity: "4" }),
        { "Content-Type": "application/json; charset=utf-8" },
      );
      deepStrictEqual(await response.json(), {
        items: [{ productId: "mug", quantity: 3 }, { productId: "teapot", quantity: 4 }],
      });
    });
    await t.step("GET /api/cart agrees", async () => {
      deepStrictEqual(await cartOf(app, token), {
        items: [{ productId: "mug", quantity: 3 }, { productId: "teapot", quantity: 4 }],
      });
    });
    await t.step("no flash message is queued for a JSON client", async () => {
      const page = await app.request("/cart", { headers: withSession(token) });
      strictEqual((await page.text()).includes('class="flash'), false);
    });
  });
});

Deno.test("POST /api/cart without a live session answers 401 JSON", async () => {
  const app = await createTestApp();
  try {
    for (const token of [undefined, "A".repeat(43)]) {
      const response = await postJson(app, token, JSON.stringify({ productId: "mug" }));
      await assertJsonError(response, 401, "unauthorized", "Sign in to use this endpoint.");
    }
  } finally {
    app.close();
  }
});

Deno.test("POST /api/cart refuses a body that is not application/json with 400", async (t) => {
  await withShopper(async (app, token) => {
    const body = JSON.stringify({ productId: "mug" });
    const types = [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "application/json-patch+json",
      "",
    ];
    for (const type of types) {
      await t.step(type || "no Content-Type", async () => {
        const headers = new Headers({ Cookie: `sid=${token}`, "Sec-Fetch-Site": "same-origin" });
        if (type) headers.set("Content-Type", type);
        const response = await app.app.request("http://localhost/api/cart", {
          method: "POST",
          headers,
          body: type ? body : new TextEncoder().encode(body),
        });
        await assertJsonError(response, 400, "bad_request", "Send the body as application/json.");
      });
    }
    deepStrictEqual(await cartOf(app, token), { items: [] });
  });
});

Deno.test("POST /api/cart refuses malformed JSON and non-objects with 400", async (t) => {
  await withShopper(async (app, token) => {
    const cases: [string, string][] = [
      ["", "The body is not valid JSON."],
      ["{", "The body is not valid JSON."],
      ["{productId: 'mug'}", "The body is not valid JSON."],
      ['{"productId": "mug",}', "The body is not valid JSON."],
      ["not json", "The body is not valid JSON."],
      ["null", "The body must be a JSON object."],
      ["[]", "The body must be a JSON object."],
      ['[{"productId": "mug"}]', "The body must be a JSON object."],
      ['"mug"', "The body must be a JSON object."],
      ["42", "The body must be a JSON object."],
    ];
    for (const [body, message] of cases) {
      await t.step(JSON.stringify(body), async () => {
        await assertJsonError(await postJson(app, token, body), 400, "bad_request", message);
      });
    }
    deepStrictEqual(await cartOf(app, token), { items: [] });
    deepStrictEqual(app.logger.lines.filter((line) => line.level === "error"), []);
  });
});

Deno.test("POST /api/cart answers 400 for an unknown product or a bad quantity", async (t) => {
  await withShopper(async (app, token) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["unknown product", { productId: "nope" }, PRODUCT_MESSAGE],
      ["no product id", { quantity: 1 }, PRODUCT_MESSAGE],
      ["a number as product id", { productId: 7 }, PRODUCT_MESSAGE],
      ["an array as product id", { productId: ["mug"] }, PRODUCT_MESSAGE],
      ["an object as product id", { productId: { id: "mug" } }, PRODUCT_MESSAGE],
      ["very long product id", { productId: "m".repeat(5000) }, PRODUCT_MESSAGE],
      ...[0, 100, -1, 1.5, "0", "100", "-1", "1.5", "abc", "1e1", " ", "9".repeat(10_000), true, [
        2,
      ], { n: 2 }]
        .map((quantity) =>
          [
            `quantity ${JSON.stringify(quantity).slice(0, 12)}`,
            { productId: "mug", quantity },
            QUANTITY_MESSAGE,
          ] as [string, Record<string, unknown>, string]
        ),
    ];
    for (const [name, body, message] of cases) {
      await t.step(name, async () => {
        const response = await postJson(app, token, JSON.stringify(body));
        await assertJsonError(response, 400, "bad_request", message);
      });
    }
    deepStrictEqual(await cartOf(app, token), { items: [] });
    deepStrictEqual(app.logger.lines.filter((line) => line.level === "error"), []);
  });
});

Deno.test("POST /api/cart answers 409 when one product would pass 99", async () => {
  await withShopper(async (app, token) => {
    const first = await postJson(app, token, JSON.stringify({ productId: "mug", quantity: 99 }));
    strictEqual(first.status, 200);
    await first.body?.cancel();
    const response = await postJson(app, token, JSON.stringify({ productId: "mug", quantity: 1 }));
    await assertJsonError(response, 409, "conflict", "A cart holds at most 99 of one product.");
    deepStrictEqual(await cartOf(app, token), { items: [{ productId: "mug", quantity: 99 }] });
  });
});

Deno.test("POST /api/cart from another origin is refused with 403 before anything else", async (t) => {
  await withShopper(async (app, token) => {
    const body = JSON.stringify({ productId: "mug" });
    const variants: [string, string | undefined, Record<string, string>][] = [
      ["cross-site Origin", token, { Origin: "https://evil.example" }],
      ["same host, other port", token, { Origin: "http://localhost:8080" }],
      ["other scheme", token, { Origin: "https://localhost" }],
      ["Origin null", token, { Origin: "null" }],
      ["Sec-Fetch-Site cross-site", token, { "Sec-Fetch-Site": "cross-site" }],
      ["Sec-Fetch-Site same-site", token, { "Sec-Fetch-Site": "same-site" }],
      ["cross-site without a session", undefined, { Origin: "https://evil.example" }],
    ];
    for (const [name, cookie, headers] of variants) {
      await t.step(name, async () => {
        const response = await postJson(app, cookie, body, headers);
        await assertJsonError(
          response,
          403,
          "forbidden",
          "This request came from another site and was refused.",
        );
      });
    }
    // The same request from our own origin goes through.
    const allowed = await postJson(app, token, body, { Origin: "http://localhost" });
    strictEqual(allowed.status, 200);
    deepStrictEqual(await allowed.json(), { items: [{ productId: "mug", quantity: 1 }] });
  });
});
