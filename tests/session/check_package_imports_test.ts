import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { importsOf, isAllowedExternal } from "../../scripts/check_package_imports.ts";

const script = new URL("../../scripts/check_package_imports.ts", import.meta.url);
const root = new URL("../../", import.meta.url);

async function run(directory: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", script.pathname, directory],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Writes `files` under a temporary `<tmp>/pkg` (and `<tmp>/outside.ts`); returns `<tmp>`. */
async function fixture(files: Record<string, string>): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "check_package_imports_" });
  await Deno.mkdir(`${tmp}/pkg/sub`, { recursive: true });
  await Deno.writeTextFile(`${tmp}/outside.ts`, "export const x = 1;\n");
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${tmp}/pkg/${name}`, text);
  }
  return tmp;
}

const ALLOWED = `/**
 * Doc examples may import test helpers: they are not package imports.
 * \`\`\`ts
 * import { strictEqual } from "node:assert/strict";
 * \`\`\`
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import * as pinned from "npm:hono@4";
export { helper } from "./sub/helper.ts";
export * from "./sub/helper.ts";
// import { x } from "lodash";
const message = 'import "lodash"; export * from "node:fs"';
const text = \`import x from "zod" \${message}\`;
const token = /^[!#$%&'*+\\-.^_\`|~0-9A-Za-z]+$/;
const half = 10 / 2; const other = "/";
export const meta = import.meta.url;
export const lazy = () => import("./sub/helper.ts");
`;

Deno.test("check_package_imports accepts hono, own files, comments and strings", async () => {
  const tmp = await fixture({
    "mod.ts": ALLOWED,
    "sub/helper.ts": 'import "../mod.ts";\nexport const helper = 1;\n',
  });
  try {
    const result = await run(`${tmp}/pkg`);
    strictEqual(result.stderr, "");
    strictEqual(result.code, 0);
    strictEqual(result.stdout, `check_package_imports: every import in ${tmp}/pkg is allowed\n`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("check_package_imports refuses other packages and paths outside, naming file and specifier", async () => {
  const tmp = await fixture({
    "mod.ts": [
      'import { z } from "zod";',
      'import type { AppEnv } from "../outside.ts";',
      'export * from "node:fs";',
      'import "npm:lodash@4";',
      'const later = await import("jsr:@std/assert");',
      "const computed = await import(name);",
      'import { x } from "https://deno.land/x/mod.ts";',
      'import { h } from "honox";',
      "",
    ].join("\n"),
    "sub/deep.ts": 'import { y } from "../../outside.ts";\n',
  });
  try {
    const result = await run(`${tmp}/pkg`);
    strictEqual(result.code, 1);
    const only = 'the package may import only "hono", "hono/..." and its own files';
    deepStrictEqual(result.stderr.trimEnd().split("\n"), [
      `${tmp}/pkg/mod.ts:1: "zod": ${only}`,
      `${tmp}/pkg/mod.ts:2: "../outside.ts": leads outside the package`,
      `${tmp}/pkg/mod.ts:3: "node:fs": ${only}`,
      `${tmp}/pkg/mod.ts:4: "npm:lodash@4": ${only}`,
      `${tmp}/pkg/mod.ts:5: "jsr:@std/assert": ${only}`,
      `${tmp}/pkg/mod.ts:6: "import(<computed>)": a computed import() cannot be checked`,
      `${tmp}/pkg/mod.ts:7: "https://deno.land/x/mod.ts": ${only}`,
      `${tmp}/pkg/mod.ts:8: "honox": ${only}`,
      `${tmp}/pkg/sub/deep.ts:1: "../../outside.ts": leads outside the package`,
      `check_package_imports: 9 refused import(s) in ${tmp}/pkg`,
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("check_package_imports passes on src/session", async () => {
  const result = await run("src/session");
  strictEqual(result.stderr, "");
  strictEqual(result.code, 0);
});

Deno.test("importsOf() finds multi-line imports on their first line", () => {
  deepStrictEqual(importsOf('\nimport {\n  a,\n  b,\n} from "hono";\n'), [{
    line: 2,
    specifier: "hono",
  }]);
});

Deno.test("isAllowedExternal() allows hono only", () => {
  for (
    const ok of [
      "hono",
      "hono/cookie",
      "npm:hono",
      "npm:hono@4",
      "npm:hono@4.13.19/jsx",
      "npm:/hono@4/",
    ]
  ) {
    strictEqual(isAllowedExternal(ok), true, ok);
  }
  for (
    const bad of [
      "honox",
      "hono-sessions",
      "npm:hono-sessions",
      "npm:honox@1",
      "node:crypto",
      "@hono/session",
    ]
  ) {
    strictEqual(isAllowedExternal(bad), false, bad);
  }
});
