import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { metaKey, productKey, PRODUCTS_PREFIX } from "../src/kv_keys.ts";
import {
  DEMO_CATALOGUE,
  formatPrice,
  type Product,
  ProductCatalogue,
  seedCatalogue,
} from "../src/products.ts";
import { countingKv, withKv } from "./_helpers.ts";

async function storedProducts(kv: Deno.Kv): Promise<Product[]> {
  const products: Product[] = [];
  for await (const entry of kv.list<Product>({ prefix: PRODUCTS_PREFIX })) {
    products.push(entry.value);
  }
  return products;
}

const byId = (a: Product, b: Product) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

Deno.test("DEMO_CATALOGUE holds a dozen products with unique ids and whole-cent prices", () => {
  strictEqual(DEMO_CATALOGUE.length, 12);
  strictEqual(new Set(DEMO_CATALOGUE.map((product) => product.id)).size, 12);
  for (const product of DEMO_CATALOGUE) {
    ok(/^[a-z0-9-]{1,64}$/.test(product.id), product.id);
    ok(product.name.length > 0, product.id);
    ok(product.description.length > 0, product.id);
    ok(Number.isSafeInteger(product.priceCents) && product.priceCents > 0, product.id);
  }
});

Deno.test("seedCatalogue() writes the catalogue once and returns true only the first time", async () => {
  await withKv(async (kv) => {
    strictEqual(await seedCatalogue(kv), true);
    deepStrictEqual(await storedProducts(kv), [...DEMO_CATALOGUE].sort(byId));
    strictEqual((await kv.get(metaKey("catalogue_seeded"))).value, true);

    // A restart: nothing is written again, not even over a product changed since.
    const changed = { ...DEMO_CATALOGUE[0]!, priceCents: 1 };
    await kv.set(productKey(changed.id), changed);
    strictEqual(await seedCatalogue(kv), false);
    strictEqual(await seedCatalogue(kv, [{ ...changed, id: "extra" }]), false);
    const products = await storedProducts(kv);
    strictEqual(products.length, 12);
    deepStrictEqual(products.find((product) => product.id === changed.id), changed);
  });
});

Deno.test("seedCatalogue() seeds once when many calls race on one KV handle", async () => {
  await withKv(async (kv) => {
    const results = await Promise.all(Array.from({ length: 8 }, () => seedCatalogue(kv)));
    strictEqual(results.filter(Boolean).length, 1);
    strictEqual((await storedProducts(kv)).length, 12);
  });
});

Deno.test("seedCatalogue() seeds once when two processes share one KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "catalogue_seed_" });
  try {
    // Several rounds, each on a fresh file, so a lucky interleaving cannot hide a race.
    for (let round = 0; round < 5; round++) {
      const path = `${dir}/round_${round}.sqlite3`;
      const first = await Deno.openKv(path);
      const second = await Deno.openKv(path);
      try {
        const results = await Promise.all([seedCatalogue(first), seedCatalogue(second)]);
        strictEqual(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
        deepStrictEqual(await storedProducts(first), [...DEMO_CATALOGUE].sort(byId));
        strictEqual((await storedProducts(second)).length, 12);
        // A restart of either process seeds nothing.
        strictEqual(await seedCatalogue(second), false);
        strictEqual(await seedCatalogue(first), false);
        strictEqual((await storedProducts(first)).length, 12);
      } finally {
        first.close();
        second.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ProductCatalogue.list() returns every product in id order", async () => {
  await withKv(async (kv) => {
    const catalogue = new ProductCatalogue(kv);
    deepStrictEqual(await catalogue.list(), []);
    await seedCatalogue(kv);
    const products = await catalogue.list();
    deepStrictEqual(products, [...DEMO_CATALOGUE].sort(byId));
    deepStrictEqual(products.map((product) => product.id), [
      "biscuits",
      "coffee-beans",
      "filters",
      "gift-card",
      "grinder",
      "honey",
      "kettle",
      "mug",
      "tea-black",
      "tea-green",
      "teapot",
      "tray",
    ]);
  });
});

Deno.test("ProductCatalogue.get() finds a product by id and returns null otherwise", async (t) => {
  await withKv(async (kv) => {
    await seedCatalogue(kv);
    const catalogue = new ProductCatalogue(kv);
    await t.step("a known id", async () => {
      deepStrictEqual(await catalogue.get("mug"), DEMO_CATALOGUE.find((p) => p.id === "mug"));
    });
    for (
      const id of [
        "",
        "nope",
        "Mug",
        "mug ",
        " mug",
        "__proto__",
        "products",
        "x".repeat(65),
        // Longer than a Deno KV key may be: must not reach KV (it would throw).
        "x".repeat(10_000),
      ]
    ) {
      await t.step(`${JSON.stringify(id.slice(0, 20))} (${id.length} chars) is null`, async () => {
        strictEqual(await catalogue.get(id), null);
      });
    }
  });
});

Deno.test("ProductCatalogue.getMany() finds products in batches of ten, skipping unknown ids", async (t) => {
  await withKv(async (rawKv) => {
    await seedCatalogue(rawKv);
    const { kv, counts, reset } = countingKv(rawKv);
    const catalogue = new ProductCatalogue(kv);

    await t.step("no ids: no read", async () => {
      reset();
      strictEqual((await catalogue.getMany([])).size, 0);
      strictEqual(counts.reads, 0);
    });

    await t.step("twelve known ids and one unknown: two reads", async () => {
      reset();
      const ids = [...DEMO_CATALOGUE.map((product) => product.id), "nope"];
      const found = await catalogue.getMany(ids);
      strictEqual(counts.reads, 2);
      deepStrictEqual(
        [...found.entries()].sort(([a], [b]) => a < b ? -1 : 1),
        [...DEMO_CATALOGUE].sort(byId).map((product) => [product.id, product]),
      );
    });

    await t.step("ten ids: one read", async () => {
      reset();
      const ids = DEMO_CATALOGUE.slice(0, 10).map((product) => product.id);
      strictEqual((await catalogue.getMany(ids)).size, 10);
      strictEqual(counts.reads, 1);
    });

    await t.step("only unknown ids: an empty map", async () => {
      strictEqual((await catalogue.getMany(["nope", "gone"])).size, 0);
    });
  });
});

Deno.test("formatPrice() formats cents with two decimals", async (t) => {
  const cases: [number, string][] = [
    [0, "0.00"],
    [1, "0.01"],
    [5, "0.05"],
    [10, "0.10"],
    [99, "0.99"],
    [100, "1.00"],
    [1005, "10.05"],
    [1250, "12.50"],
    [7700, "77.00"],
    [123_456_789, "1234567.89"],
  ];
  for (const [cents, expected] of cases) {
    await t.step(`${cents} -> ${expected}`, () => strictEqual(formatPrice(cents), expected));
  }
  await t.step("every amount up to 10,000.00 is exact (no floating-point drift)", () => {
    for (let cents = 0; cents <= 1_000_000; cents++) {
      const expected = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
      const actual = formatPrice(cents);
      if (actual !== expected) strictEqual(actual, expected, `${cents} cents`);
    }
  });
});
