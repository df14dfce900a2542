import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import type { CartLine } from "../src/app_env.ts";
import {
  addToCart,
  CartLimitError,
  countItems,
  MAX_CART_LINES,
  MAX_QUANTITY,
  parseQuantity,
  removeFromCart,
} from "../src/cart.ts";

function frozen(cart: CartLine[]): readonly CartLine[] {
  return Object.freeze(cart.map((line) => Object.freeze({ ...line })));
}

Deno.test("parseQuantity() accepts a whole number from 1 to 99 and defaults to 1", async (t) => {
  const cases: [unknown, number][] = [
    [undefined, 1],
    [null, 1],
    ["", 1],
    ["1", 1],
    ["7", 7],
    ["07", 7],
    [" 7 ", 7],
    ["99", 99],
    [1, 1],
    [42, 42],
    [99, 99],
    [99.0, 99],
  ];
  for (const [raw, expected] of cases) {
    await t.step(`${JSON.stringify(raw)} -> ${expected}`, () => {
      strictEqual(parseQuantity(raw), expected);
    });
  }
});

Deno.test("parseQuantity() returns null for anything else", async (t) => {
  const cases: unknown[] = [
    "0",
    "00",
    "100",
    "-1",
    "+1",
    "1.5",
    "1.0",
    "abc",
    "1e1",
    "0x10",
    "5abc",
    " ",
    "\t",
    "٣", // ARABIC-INDIC DIGIT THREE: a digit, but not one we parse
    "１", // FULLWIDTH DIGIT ONE
    "9".repeat(10_000),
    0,
    100,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.MAX_SAFE_INTEGER,
    true,
    false,
    [],
    [5],
    {},
    { valueOf: () => 5 },
    5n,
  ];
  for (const raw of cases) {
    const label = typeof raw === "string"
      ? JSON.stringify(raw.slice(0, 12)) + (raw.length > 12 ? `... (${raw.length} chars)` : "")
      : typeof raw === "bigint"
      ? `${raw}n`
      : String(JSON.stringify(raw) ?? raw);
    await t.step(`${label} -> null`, () => strictEqual(parseQuantity(raw), null));
  }
});

Deno.test("addToCart() appends a new line and adds to an existing one", () => {
  const empty = frozen([]);
  const one = addToCart(empty, "mug", 2);
  deepStrictEqual(one, [{ productId: "mug", quantity: 2 }]);
  const two = addToCart(frozen(one), "teapot", 1);
  deepStrictEqual(two, [{ productId: "mug", quantity: 2 }, { productId: "teapot", quantity: 1 }]);
  // Adding to an existing line keeps its place in the cart.
  deepStrictEqual(addToCart(frozen(two), "mug", 3), [
    { productId: "mug", quantity: 5 },
    { productId: "teapot", quantity: 1 },
  ]);
  // Inputs are never mutated (frozen above: a mutation would throw in strict mode).
  deepStrictEqual(empty, []);
});

Deno.test("addToCart() allows up to 99 of one product and throws CartLimitError beyond", async (t) => {
  await t.step("exactly 99 in one go or in steps", () => {
    deepStrictEqual(addToCart([], "mug", MAX_QUANTITY), [{ productId: "mug", quantity: 99 }]);
    deepStrictEqual(addToCart([{ productId: "mug", quantity: 60 }], "mug", 39), [
      { productId: "mug", quantity: 99 },
    ]);
  });
  for (const [existing, added] of [[99, 1], [60, 40], [1, 99]] as const) {
    await t.step(`${existing} + ${added}`, () => {
      const cart = frozen([{ productId: "mug", quantity: existing }]);
      throws(() => addToCart(cart, "mug", added), (error: unknown) => {
        strictEqual(error instanceof CartLimitError, true);
        strictEqual(error instanceof RangeError, true);
        strictEqual((error as Error).name, "CartLimitError");
        strictEqual((error as Error).message, "A cart holds at most 99 of one product.");
        return true;
      });
    });
  }
  await t.step("another product is not affected by a full line", () => {
    deepStrictEqual(addToCart([{ productId: "mug", quantity: 99 }], "teapot", 99), [
      { productId: "mug", quantity: 99 },
      { productId: "teapot", quantity: 99 },
    ]);
  });
});

Deno.test("addToCart() allows at most 50 different products", () => {
  const full = frozen(
    Array.from({ length: MAX_CART_LINES }, (_, i) => ({ productId: `p${i}`, quantity: 1 })),
  );
  strictEqual(full.length, 50);
  throws(() => addToCart(full, "one-more", 1), {
    name: "CartLimitError",
    message: "A cart holds at most 50 different products.",
  });
  // A full cart still takes more of a product it already holds.
  const more = addToCart(full, "p7", 2);
  strictEqual(more.length, 50);
  deepStrictEqual(more[7], { productId: "p7", quantity: 3 });
  // One line fewer, and a new product fits.
  strictEqual(addToCart(full.slice(1), "one-more", 1).length, 50);
});

Deno.test("removeFromCart() removes one product's line and leaves the rest", () => {
  const cart = frozen([
    { productId: "mug", quantity: 2 },
    { productId: "teapot", quantity: 1 },
    { productId: "honey", quantity: 4 },
  ]);
  deepStrictEqual(removeFromCart(cart, "teapot"), [
    { productId: "mug", quantity: 2 },
    { productId: "honey", quantity: 4 },
  ]);
  deepStrictEqual(removeFromCart(cart, "nope"), cart);
  deepStrictEqual(removeFromCart(cart, ""), cart);
  deepStrictEqual(removeFromCart([], "mug"), []);
  strictEqual(cart.length, 3);
});

Deno.test("countItems() sums the quantities of every line", () => {
  strictEqual(countItems([]), 0);
  strictEqual(countItems([{ productId: "mug", quantity: 2 }]), 2);
  strictEqual(
    countItems([{ productId: "mug", quantity: 2 }, { productId: "teapot", quantity: 99 }]),
    101,
  );
});
