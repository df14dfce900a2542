/**
 * Cart arithmetic on the session's cart lines: pure functions, applied by the session store's
 * atomic update so concurrent additions are never lost.
 *
 * @module
 */
import type { CartLine } from "./app_env.ts";

/** Most of one product a cart line may hold. */
export const MAX_QUANTITY = 99;

/** Most distinct products a cart may hold (keeps the session small). */
export const MAX_CART_LINES = 50;

/** Thrown when a change would break the cart's limits; the message is safe to show. */
export class CartLimitError extends RangeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CartLimitError";
  }
}

/**
 * Parses a quantity from a form or JSON: a whole number from 1 to 99; absent means 1.
 * Returns null for anything else.
 */
export function parseQuantity(raw: unknown): number | null {
  if (raw === undefined || raw === null || raw === "") return 1;
  const value = typeof raw === "number"
    ? raw
    : typeof raw === "string" && /^\d{1,2}$/.test(raw.trim())
    ? Number(raw)
    : NaN;
  return Number.isInteger(value) && value >= 1 && value <= MAX_QUANTITY ? value : null;
}

/**
 * Returns the cart with `quantity` more of `productId`.
 *
 * @throws {CartLimitError} when the line would pass 99 or the cart 50 lines
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { addToCart } from "./cart.ts";
 *
 * deepStrictEqual(addToCart([{ productId: "mug", quantity: 1 }], "mug", 2), [
 *   { productId: "mug", quantity: 3 },
 * ]);
 * ```
 */
export function addToCart(
  cart: readonly CartLine[],
  productId: string,
  quantity: number,
): CartLine[] {
  const existing = cart.find((line) => line.productId === productId);
  if (existing === undefined) {
    if (cart.length >= MAX_CART_LINES) {
      throw new CartLimitError(`A cart holds at most ${MAX_CART_LINES} different products.`);
    }
    return [...cart, { productId, quantity }];
  }
  if (existing.quantity + quantity > MAX_QUANTITY) {
    throw new CartLimitError(`A cart holds at most ${MAX_QUANTITY} of one product.`);
  }
  return cart.map((line) =>
    line.productId === productId ? { productId, quantity: line.quantity + quantity } : line
  );
}

/** Returns the cart without `productId`. */
export function removeFromCart(cart: readonly CartLine[], productId: string): CartLine[] {
  return cart.filter((line) => line.productId !== productId);
}

/** Total number of items. */
export function countItems(cart: readonly CartLine[]): number {
  return cart.reduce((sum, line) => sum + line.quantity, 0);
}
