import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { CartLine } from "../src/app_env.ts";
import { productKey } from "../src/kv_keys.ts";
import { DEMO_CATALOGUE, formatPrice } from "../src/products.ts";
import { createTestApp, form, signUp, type TestApp, withSession } from "./_helpers.ts";

const FORM_TYPE = { "Content-Type": "application/x-www-form-urlencoded" };
const QUANTITY_MESSAGE = "Quantity must be a whole number from 1 to 99.";
const PRODUCT_MESSAGE = "There is no such product.";

/** Runs `fn` with a test app and a signed-up user's session token. */
async function withShopper(fn: (app: TestApp, token: string) => Promise<void>): Promise<void> {
  const app = await createTestApp();
  try {
    await fn(app, await signUp(app));
  } finally {
    app.close();
  }
}

function postForm(
  app: TestApp,
  token: string,
  path: string,
  fields: Record<string, string>,
  headers: HeadersInit = {},
): Promise<Response> {
  return app.request(path, {
    ...form(fields),
    headers: withSession(token, { ...FORM_TYPE, ...headers }),
  });
}

async function addToCart(
  app: TestApp,
  token: string,
  fields: Record<string, string>,
): Promise<void> {
  const response = await postForm(app, token, "/cart", fields);
  await response.body?.cancel();
  strictEqual(response.status, 303, JSON.stringify(fields));
}

/** The cart as the API reports it. */
async function cartOf(app: TestApp, token: string): Promise<CartLine[]> {
  const response = await app.request("/api/cart", { headers: withSession(token) });
  strictEqual(response.status, 200);
  return (await response.json()).items;
}

async function getPage(app: TestApp, token: string, path: string): Promise<string> {
  const response = await app.request(path, { headers: withSession(token) });
  strictEqual(response.status, 200, path);
  return await response.text();
}

function noServerErrors(app: TestApp): void {
  deepStrictEqual(app.logger.lines.filter((line) => line.level === "error"), []);
}

Deno.test("GET /products lists the catalogue with an add-to-cart form per product", async () => {
  await withShopper(async (app, token) => {
    const response = await app.request("/products", { headers: withSession(token) });
    strictEqual(response.status, 200);
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    const page = await response.text();
    strictEqual(page.match(/<form method="post" action="\/cart">/g)?.length, 12);
    for (const product of DEMO_CATALOGUE) {
      ok(page.includes(`<h2>${product.name}</h2>`), product.id);
      ok(page.includes(`<p class="price">${formatPrice(product.priceCents)}</p>`), product.id);
      ok(
        page.includes(`<input type="hidden" name="productId" value="${product.id}">`),
        product.id,
      );
    }
    strictEqual(
      page.match(/name="quantity" type="number" min="1" max="99" value="1"/g)?.length,
      12,
    );
  });
});

Deno.test("GET /products, GET /cart and the cart forms redirect to /login without a session", async (t) => {
  const app = await createTestApp();
  try {
    const cases: [string, RequestInit, string][] = [
      ["/products", {}, "/login?next=%2Fproducts"],
      ["/cart", {}, "/login?next=%2Fcart"],
      ["/cart", form({ productId: "mug" }), "/login?next=%2Fdashboard"],
      ["/cart/remove", form({ productId: "mug" }), "/login?next=%2Fdashboard"],
    ];
    for (const [path, init, location] of cases) {
      for (const cookie of [undefined, "sid=" + "A".repeat(43)]) {
        await t.step(`${init.method ?? "GET"} ${path} with ${cookie ?? "no cookie"}`, async () => {
          const headers = new Headers(init.headers);
          if (cookie) headers.set("Cookie", cookie);
          const response = await app.request(path, { ...init, headers });
          await response.body?.cancel();
          strictEqual(response.status, 303);
          strictEqual(response.headers.get("Location"), location);
        });
      }
    }
  } finally {
    app.close();
  }
});

Deno.test("POST /cart adds a product and redirects to /cart", async (t) => {
  await withShopper(async (app, token) => {
    await t.step("without a quantity: one", async () => {
      const response = await postForm(app, token, "/cart", { productId: "mug" });
      await response.body?.cancel();
      strictEqual(response.status, 303);
      strictEqual(response.headers.get("Location"), "/cart");
      deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 1 }]);
    });
    await t.step("an empty quantity field: one", async () => {
      await addToCart(app, token, { productId: "mug", quantity: "" });
      deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 2 }]);
    });
    await t.step("with a quantity, to a new line", async () => {
      await addToCart(app, token, { productId: "teapot", quantity: "3" });
      deepStrictEqual(await cartOf(app, token), [
        { productId: "mug", quantity: 2 },
        { productId: "teapot", quantity: 3 },
      ]);
    });
    await t.step("as multipart/form-data too", async () => {
      const body = new FormData();
      body.set("productId", "mug");
      body.set("quantity", "5");
      const response = await app.request("/cart", {
        method: "POST",
        body,
        headers: withSession(token),
      });
      await response.body?.cancel();
      strictEqual(response.status, 303);
      deepStrictEqual(await cartOf(app, token), [
        { productId: "mug", quantity: 7 },
        { productId: "teapot", quantity: 3 },
      ]);
    });
    noServerErrors(app);
  });
});

Deno.test("POST /cart shows its flash message on the next GET /cart only", async () => {
  await withShopper(async (app, token) => {
    await addToCart(app, token, { productId: "mug", quantity: "2" });
    const message = `<p class="flash " role="status">Added 2 × Stoneware mug to your cart.</p>`;
    ok((await getPage(app, token, "/cart")).includes(message));
    const second = await getPage(app, token, "/cart");
    ok(!second.includes("Added 2"), "the flash message is shown twice");
    ok(!second.includes('class="flash'), "a flash message is left over");
  });
});

Deno.test("POST /cart keeps its flash message for a page: API calls and other POSTs leave it", async () => {
  await withShopper(async (app, token) => {
    await addToCart(app, token, { productId: "mug" });
    // A script refreshing a cart badge, then a second add before the redirect is followed.
    deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 1 }]);
    await addToCart(app, token, { productId: "teapot" });
    const page = await getPage(app, token, "/cart");
    ok(page.includes("Added 1 × Stoneware mug to your cart."), "first message lost");
    ok(page.includes("Added 1 × Cast-iron teapot to your cart."), "second message lost");
    ok(!(await getPage(app, token, "/cart")).includes("Added 1"));
  });
});

Deno.test("POST /cart answers 400 with a message for an unknown product or a bad quantity", async (t) => {
  await withShopper(async (app, token) => {
    const cases: [string, Record<string, string>, string][] = [
      ["unknown product", { productId: "nope" }, PRODUCT_MESSAGE],
      ["empty product id", { productId: "" }, PRODUCT_MESSAGE],
      ["no product id", { quantity: "1" }, PRODUCT_MESSAGE],
      ["very long product id", { productId: "m".repeat(5000) }, PRODUCT_MESSAGE],
      ["unknown product, bad quantity", { productId: "nope", quantity: "0" }, PRODUCT_MESSAGE],
      ...["0", "100", "-1", "1.5", "abc", "1e1", " ", "+1", "0x1", "9".repeat(10_000)].map((
        quantity,
      ) =>
        [
          `quantity ${JSON.stringify(quantity.slice(0, 8))} (${quantity.length} chars)`,
          { productId: "mug", quantity },
          QUANTITY_MESSAGE,
        ] as [string, Record<string, string>, string]
      ),
    ];
    for (const [name, fields, message] of cases) {
      await t.step(name, async () => {
        const response = await postForm(app, token, "/cart", fields);
        strictEqual(response.status, 400);
        strictEqual(response.headers.get("Content-Type"), "text/html; charset=UTF-8");
        ok((await response.text()).includes(message), message);
      });
    }
    deepStrictEqual(await cartOf(app, token), []);
    noServerErrors(app);
  });
});

Deno.test("POST /cart answers 400 to a body that is not a form", async () => {
  await withShopper(async (app, token) => {
    const response = await app.request("/cart", {
      method: "POST",
      headers: withSession(token, { "Content-Type": "application/json" }),
      body: JSON.stringify({ productId: "mug" }),
    });
    strictEqual(response.status, 400);
    ok((await response.text()).includes("application/x-www-form-urlencoded"));
    deepStrictEqual(await cartOf(app, token), []);
  });
});

Deno.test("POST /cart answers 409 when one product would pass 99", async () => {
  await withShopper(async (app, token) => {
    await addToCart(app, token, { productId: "mug", quantity: "60" });
    const response = await postForm(app, token, "/cart", { productId: "mug", quantity: "40" });
    strictEqual(response.status, 409);
    ok((await response.text()).includes("A cart holds at most 99 of one product."));
    deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 60 }]);
    // Up to 99 exactly is fine.
    await addToCart(app, token, { productId: "mug", quantity: "39" });
    deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 99 }]);
    const over = await postForm(app, token, "/cart", { productId: "mug" });
    strictEqual(over.status, 409);
    await over.body?.cancel();
    deepStrictEqual(await cartOf(app, token), [{ productId: "mug", quantity: 99 }]);
    noServerErrors(app);
  });
});

Deno.test("POST /cart from another site is refused with 403 and changes nothing", async () => {
  await withShopper(async (app, token) => {
    const variants: Record<string, string>[] = [
      { Origin: "https://evil.example" },
      { "Sec-Fetch-Site": "cross-site" },
    ];
    for (const headers of variants) {
      const response = await postForm(app, token, "/cart", { productId: "mug" }, headers);
      await response.body?.cancel();
      strictEqual(response.status, 403, JSON.stringify(headers));
    }
    deepStrictEqual(await cartOf(app, token), []);
  });
});

Deno.test("GET /cart shows lines, quantities, subtotals and the total", async (t) => {
  await withShopper(async (app, token) => {
    await t.step("an empty cart", async () => {
      const page = await getPage(app, token, "/cart");
      ok(page.includes("Your cart is empty."));
      ok(!page.includes("cart-total"));
    });

    await t.step("2 mugs and 1 teapot: 14.00 x 2 + 49.00 = 77.00", async () => {
      await addToCart(app, token, { productId: "mug", quantity: "2" });
      await addToCart(app, token, { productId: "teapot" });
      const page = await getPage(app, token, "/cart");
      ok(/<td>Stoneware mug<\/td>\s*<td>14\.00<\/td>\s*<td>2<\/td>\s*<td>28\.00<\/td>/.test(page));
      ok(
        /<td>Cast-iron teapot<\/td>\s*<td>49\.00<\/td>\s*<td>1<\/td>\s*<td>49\.00<\/td>/.test(page),
      );
      ok(page.includes('<span data-testid="cart-total">77.00</span>'));
      strictEqual(page.match(/action="\/cart\/remove"/g)?.length, 2);
    });

    await t.step("plus 3 oat biscuits at 3.90: 88.70", async () => {
      await addToCart(app, token, { productId: "biscuits", quantity: "3" });
      const page = await getPage(app, token, "/cart");
      ok(/<td>Oat biscuits<\/td>\s*<td>3\.90<\/td>\s*<td>3<\/td>\s*<td>11\.70<\/td>/.test(page));
      ok(page.includes('<span data-testid="cart-total">88.70</span>'));
    });

    await t.step("a line whose product left the catalogue is skipped", async () => {
      await app.kv.delete(productKey("teapot"));
      const page = await getPage(app, token, "/cart");
      ok(!page.includes("<td>Cast-iron teapot</td>"));
      ok(page.includes('<span data-testid="cart-total">39.70</span>'));
    });
  });
});

Deno.test("POST /cart/remove removes one line and redirects to /cart", async () => {
  await withShopper(async (app, token) => {
    await addToCart(app, token, { productId: "mug", quantity: "2" });
    await addToCart(app, token, { productId: "teapot" });
    const response = await postForm(app, token, "/cart/remove", { productId: "mug" });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/cart");
    deepStrictEqual(await cartOf(app, token), [{ productId: "teapot", quantity: 1 }]);
    const page = await getPage(app, token, "/cart");
    ok(page.includes("Removed the item from your cart."));
    ok(!page.includes("<td>Stoneware mug</td>"));
    ok(page.includes("<td>Cast-iron teapot</td>"));
    ok(page.includes('<span data-testid="cart-total">49.00</span>'));

    // Removing what is not there changes nothing.
    const variants: Record<string, string>[] = [{ productId: "mug" }, { productId: "nope" }, {}];
    for (const fields of variants) {
      const again = await postForm(app, token, "/cart/remove", fields);
      await again.body?.cancel();
      strictEqual(again.status, 303);
    }
    deepStrictEqual(await cartOf(app, token), [{ productId: "teapot", quantity: 1 }]);
    noServerErrors(app);
  });
});

Deno.test("POST /cart from 40 parallel requests of one session adds all 40", async () => {
  await withShopper(async (app, token) => {
    const ac = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
      app.app.fetch,
    );
    try {
      const origin = `http://127.0.0.1:${server.addr.port}`;
      const headers = { Cookie: `sid=${token}`, Origin: origin, ...FORM_TYPE };
      const responses = await Promise.all(
        Array.from({ length: 40 }, () =>
          fetch(`${origin}/cart`, {
            method: "POST",
            headers,
            body: new URLSearchParams({ productId: "mug" }),
            redirect: "manual",
          })),
      );
      for (const response of responses) await response.body?.cancel();
      deepStrictEqual(responses.map((r) => r.status), Array(40).fill(303));
      deepStrictEqual(responses.map((r) => r.headers.get("Location")), Array(40).fill("/cart"));

      const cart = await fetch(`${origin}/api/cart`, { headers: { Cookie: `sid=${token}` } });
      strictEqual(cart.status, 200);
      deepStrictEqual(await cart.json(), { items: [{ productId: "mug", quantity: 40 }] });
      noServerErrors(app);
    } finally {
      ac.abort();
      await server.finished;
    }
  });
});
