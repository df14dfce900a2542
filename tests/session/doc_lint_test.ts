import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import {
  declaredNames,
  type DocLintFinding,
  honoTypeNames,
  isHonoTypeReference,
  parseDocLint,
} from "../../scripts/doc_lint.ts";

const SAMPLE =
  `error[private-type-ref]: public type 'sessionMiddleware' references private type 'MiddlewareHandler'
   --> /work/main/src/session/middleware.ts:150:1
  info: to ensure documentation is complete all types that are exposed in the public API must be public


error[private-type-ref]: public type 'startSession' references private type 'StartSessionInput'
   --> /work/main/src/session/helpers.ts:84:1


error[missing-jsdoc]: exported symbol is missing JSDoc documentation
   --> /work/main/src/session/mod.ts:3:1

error: Found 3 documentation lint errors.
`;

async function runCheck(directory: string): Promise<{ code: number; output: string }> {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run=deno", "scripts/doc_lint.ts", directory],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: run.code, output: decode(run.stdout) + decode(run.stderr) };
}

Deno.test("doc lint: only a private-type-ref to a type imported from hono is tolerated", () => {
  const findings = parseDocLint(SAMPLE);
  deepStrictEqual(findings.map((finding: DocLintFinding) => finding.rule), [
    "private-type-ref",
    "private-type-ref",
    "missing-jsdoc",
  ]);
  const hono = honoTypeNames([
    'import type { Context, MiddlewareHandler } from "hono";\nimport { type Env } from "hono/types";',
  ]);
  deepStrictEqual([...hono].sort(), ["Context", "Env", "MiddlewareHandler"]);
  deepStrictEqual(findings.map((finding) => isHonoTypeReference(finding, hono)), [
    true,
    false,
    false,
  ]);
});

Deno.test("doc lint: the package's entry points pass", async () => {
  const { code, output } = await runCheck("src/session");
  strictEqual(code, 0, output);
  match(output, /: 0 finding\(s\)/);
});

Deno.test("doc lint: an export without JSDoc fails the check", async () => {
  const directory = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${directory}/deno.json`,
      JSON.stringify({ name: "@x/y", version: "0.0.0", exports: { ".": "./mod.ts" } }),
    );
    await Deno.writeTextFile(`${directory}/mod.ts`, "/** @module */\nexport const answer = 42;\n");
    const { code, output } = await runCheck(directory);
    strictEqual(code, 1, output);
    match(output, /missing-jsdoc/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("doc lint: a type the package declares itself is never tolerated, whatever Hono has", () => {
  const sources = [
    'import type { Context } from "hono";\nexport interface Env {}\nexport type Handler = () => void;',
  ];
  deepStrictEqual([...declaredNames(sources)].sort(), ["Env", "Handler"]);
  const tolerated = honoTypeNames([...sources, 'import type { Env } from "hono";'])
    .difference(declaredNames(sources));
  deepStrictEqual([...tolerated], ["Context"]);
});
