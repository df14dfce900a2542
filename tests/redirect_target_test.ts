import { strictEqual } from "node:assert/strict";
import { safeRedirectPath } from "../src/redirect_target.ts";
import { HOSTILE_NEXT_VALUES, SAFE_NEXT_VALUES } from "./_redirect_cases.ts";

Deno.test("safeRedirectPath() keeps same-site paths", async (t) => {
  for (const path of SAFE_NEXT_VALUES) {
    await t.step(JSON.stringify(path), () => strictEqual(safeRedirectPath(path), path));
  }
});

Deno.test("safeRedirectPath() refuses other sites, schemes and encoded tricks", async (t) => {
  for (const value of HOSTILE_NEXT_VALUES) {
    await t.step(JSON.stringify(value).slice(0, 60), () => {
      strictEqual(safeRedirectPath(value), null);
    });
  }
});

Deno.test("safeRedirectPath() refuses values that are not strings", () => {
  for (const value of [undefined, null, 42, ["/x"], { toString: () => "/x" }]) {
    strictEqual(safeRedirectPath(value), null);
  }
});
