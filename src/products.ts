/**
 * The demo catalogue: a dozen products seeded into KV once, whatever the number of processes.
 *
 * @module
 */
import { commitWithRetry } from "@kvsession/hono";
import { metaKey, productKey, PRODUCTS_PREFIX } from "./kv_keys.ts";

/** One product of the catalogue. */
export interface Product {
  /** Short stable id, used in forms. */
  id: string;
  /** Product name. */
  name: string;
  /** Price in cents (integers: no floating-point money). */
  priceCents: number;
  /** One-line description. */
  description: string;
}

/** The demo catalogue seeded on first start. */
export const DEMO_CATALOGUE: readonly Product[] = [
  {
    id: "tea-green",
    name: "Sencha green tea",
    priceCents: 1250,
    description: "100 g of loose-leaf Japanese sencha.",
  },
  {
    id: "tea-black",
    name: "Assam black tea",
    priceCents: 990,
    description: "Malty breakfast tea, 150 g tin.",
  },
  {
    id: "coffee-beans",
    name: "Single-origin coffee",
    priceCents: 1690,
    description: "250 g whole beans from Huila, Colombia.",
  },
  {
    id: "mug",
    name: "Stoneware mug",
    priceCents: 1400,
    description: "Hand-glazed, 350 ml, dishwasher safe.",
  },
  {
    id: "teapot",
    name: "Cast-iron teapot",
    priceCents: 4900,
    description: "0.8 l tetsubin with a steel infuser.",
  },
  {
    id: "kettle",
    name: "Gooseneck kettle",
    priceCents: 5900,
    description: "Precise pouring for tea and pour-over.",
  },
  {
    id: "grinder",
    name: "Burr grinder",
    priceCents: 7900,
    description: "Manual conical burr grinder, 40 g hopper.",
  },
  {
    id: "filters",
    name: "Paper filters",
    priceCents: 450,
    description: "100 unbleached cone filters.",
  },
  {
    id: "honey",
    name: "Wildflower honey",
    priceCents: 850,
    description: "Raw honey from local beekeepers, 400 g.",
  },
  {
    id: "biscuits",
    name: "Oat biscuits",
    priceCents: 390,
    description: "A box of twelve butter oat biscuits.",
  },
  {
    id: "tray",
    name: "Bamboo tea tray",
    priceCents: 3200,
    description: "Slatted tray with a drip reservoir.",
  },
  {
    id: "gift-card",
    name: "Gift card",
    priceCents: 2500,
    description: "A 25.00 voucher for the whole store.",
  },
];

/**
 * Writes the catalogue unless it was seeded before. Safe to run from many processes at once:
 * the marker key is checked in the same atomic commit that writes the products.
 *
 * @returns true when this call seeded it
 */
export async function seedCatalogue(kv: Deno.Kv, products = DEMO_CATALOGUE): Promise<boolean> {
  const marker = metaKey("catalogue_seeded");
  if ((await kv.get(marker)).versionstamp !== null) return false;
  const result = await commitWithRetry(() => {
    const operation = kv.atomic().check({ key: marker, versionstamp: null }).set(marker, true);
    for (const product of products) operation.set(productKey(product.id), product);
    return operation;
  });
  return result.ok;
}

/** Read access to the catalogue. */
export class ProductCatalogue {
  readonly #kv: Deno.Kv;

  /** Creates the catalogue over `kv`. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** All products, in id order. */
  async list(): Promise<Product[]> {
    const products: Product[] = [];
    for await (const entry of this.#kv.list<Product>({ prefix: PRODUCTS_PREFIX })) {
      products.push(entry.value);
    }
    return products;
  }

  /** The product with `id`, or null. */
  async get(id: string): Promise<Product | null> {
    if (id === "" || id.length > 64) return null;
    return (await this.#kv.get<Product>(productKey(id))).value;
  }

  /** Products by id, for rendering a cart (one batched read per ten ids). */
  async getMany(ids: readonly string[]): Promise<Map<string, Product>> {
    const found = new Map<string, Product>();
    for (let i = 0; i < ids.length; i += 10) {
      const entries = await this.#kv.getMany<Product[]>(ids.slice(i, i + 10).map(productKey));
      for (const { value } of entries) if (value !== null) found.set(value.id, value);
    }
    return found;
  }
}

/**
 * Formats cents as a price.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatPrice } from "./products.ts";
 *
 * strictEqual(formatPrice(1250), "12.50");
 * ```
 */
export function formatPrice(cents: number): string {
  return (cents / 100).toFixed(2);
}
