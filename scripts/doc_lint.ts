/**
 * CI check: `deno doc --lint` on the session package's entry points, failing on every finding
 * except one known false positive.
 *
 *   deno run --allow-read --allow-run=deno scripts/doc_lint.ts [package-directory]
 *
 * The false positive: `private-type-ref` for a type the package imports from `hono` (`Context`,
 * `MiddlewareHandler`, `Env`). Those types are Hono's public API, documented by Hono; Deno
 * reports them because the npm package resolves to files in the local cache, which its
 * cross-package exemption (denoland/deno#27364, fixed for `jsr:` and `https:` in #34339) does not
 * cover. Re-exporting Hono's types from the package does not help (it moves the findings onto
 * Hono's own internals) and would make Hono's API part of ours. Every other finding, including a
 * `private-type-ref` to one of the package's own types, fails the check.
 *
 * @module
 */

/** One finding of `deno doc --lint`, as printed. */
export interface DocLintFinding {
  /** The rule, e.g. `private-type-ref` or `missing-jsdoc`. */
  rule: string;
  /** The first line after `error[rule]: `. */
  message: string;
  /** The whole block as printed, for the report. */
  text: string;
}

/** Splits `deno doc --lint` output (without colours) into its findings. */
export function parseDocLint(output: string): DocLintFinding[] {
  const findings: DocLintFinding[] = [];
  const starts = [...output.matchAll(/^error\[([a-z-]+)\]: (.*)$/gm)];
  starts.forEach((match, index) => {
    const end = starts[index + 1]?.index ?? output.length;
    findings.push({
      rule: match[1]!,
      message: match[2]!,
      text: output.slice(match.index, end).trimEnd(),
    });
  });
  return findings;
}

/**
 * The type names the package imports from `hono` (`import type { A, B } from "hono"` and the
 * same with `hono/...`), the only names a tolerated finding may refer to.
 */
export function honoTypeNames(sources: string[]): Set<string> {
  const names = new Set<string>();
  for (const source of sources) {
    for (
      const match of source.matchAll(/^import(?: type)? \{([^}]*)\} from "hono(?:\/[^"]*)?";/gm)
    ) {
      for (const part of match[1]!.split(",")) {
        const name = part.replace(/^\s*type\s+/, "").split(/\s+as\s+/).pop()!.trim();
        if (name !== "") names.add(name);
      }
    }
  }
  return names;
}

/** The names of the types, classes, interfaces and functions the package's files declare. */
export function declaredNames(sources: string[]): Set<string> {
  const names = new Set<string>();
  const declaration =
    /^(?:export\s+)?(?:declare\s+)?(?:type|interface|class|function|enum)\s+([A-Za-z_$][\w$]*)/gm;
  for (const source of sources) {
    for (const match of source.matchAll(declaration)) names.add(match[1]!);
  }
  return names;
}

/** True for the known false positive: a `private-type-ref` to a type imported from `hono`. */
export function isHonoTypeReference(finding: DocLintFinding, honoTypes: Set<string>): boolean {
  if (finding.rule !== "private-type-ref") return false;
  const referenced = /references private type '([^']+)'$/.exec(finding.message)?.[1];
  return referenced !== undefined && honoTypes.has(referenced);
}

async function main(directory: string): Promise<number> {
  const config = JSON.parse(await Deno.readTextFile(`${directory}/deno.json`)) as {
    exports: Record<string, string>;
  };
  const entries = Object.values(config.exports).map((path) => `${directory}/${path}`);
  const sources: string[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (entry.isFile && entry.name.endsWith(".ts")) {
      sources.push(await Deno.readTextFile(`${directory}/${entry.name}`));
    }
  }
  const run = await new Deno.Command("deno", {
    args: ["doc", "--lint", ...entries],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  const findings = parseDocLint(output);
  // A name the package declares itself is never tolerated, even when Hono has one like it.
  const honoTypes = honoTypeNames(sources).difference(declaredNames(sources));
  const real = findings.filter((finding) => !isHonoTypeReference(finding, honoTypes));
  const tolerated = findings.length - real.length;
  for (const finding of real) console.error(finding.text + "\n");
  // deno doc's own count must match what was parsed, or it failed for another reason too.
  const counted = Number(/Found (\d+) documentation lint errors?/.exec(output)?.[1] ?? 0);
  if (!run.success && counted !== findings.length) {
    console.error(output.trimEnd());
    console.error(
      `deno doc --lint failed (${counted} finding(s) counted, ${findings.length} parsed)`,
    );
    return 1;
  }
  console.log(
    `deno doc --lint ${entries.join(" ")}: ${real.length} finding(s)` +
      (tolerated > 0
        ? `; ${tolerated} private-type-ref to Hono's own types tolerated (denoland/deno#27364)`
        : ""),
  );
  return real.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args[0] ?? "src/session"));
