/**
 * CI check: the session package imports only `hono` and its own files.
 *
 *   deno run --allow-read scripts/check_package_imports.ts [package-directory]
 *
 * Every `.ts`/`.tsx`/`.js`/`.mjs`/`.mts` file under the directory (default `src/session`) is
 * scanned for `import`/`export ... from`, side-effect imports, `import()` and `require()`.
 * Allowed: `"hono"`, `"hono/..."`, `npm:hono` (any version, any subpath) and relative paths that
 * stay inside the directory. Refused, each reported as `file:line: specifier`: any other bare
 * specifier, `node:`, `npm:`, `jsr:` and URL specifiers, a relative path leading outside, and an
 * `import()` of a computed specifier (it cannot be checked). Exit code 1 when anything is refused.
 *
 * Comments are skipped (doc examples may import test helpers such as `node:assert/strict`: they
 * run under `deno test --doc`, not in the package), and string contents cannot fake an import.
 *
 * @module
 */

const SOURCE = /\.(?:ts|tsx|mts|js|jsx|mjs)$/;

/** One refused import. */
export interface Violation {
  /** Path of the file, as given to {@linkcode checkDirectory} plus the relative part. */
  file: string;
  /** 1-based line of the import. */
  line: number;
  /** The specifier as written, or `import(<computed>)`. */
  specifier: string;
  /** Why it is refused. */
  reason: string;
}

/** True for the specifiers the package may import besides its own files. */
export function isAllowedExternal(specifier: string): boolean {
  return specifier === "hono" || specifier.startsWith("hono/") ||
    /^npm:\/?hono(?:@[^/]*)?(?:\/|$)/.test(specifier);
}

/**
 * Replaces comments by spaces and every string literal by `"#<n>"` (its text kept in
 * `strings[n]`), so the import patterns see code only. Template literals become `` `#` ``.
 * Line breaks are kept, so offsets map to the same lines.
 */
export function maskSource(source: string): { code: string; strings: string[] } {
  const strings: string[] = [];
  let out = "";
  let i = 0;
  // The last significant character, to tell a regular expression from a division.
  let previous = "";
  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  while (i < source.length) {
    const ch = source[i]!;
    const next = source[i + 1];
    if (ch === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (ch === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      let text = "";
      while (j < source.length && source[j] !== ch && source[j] !== "\n") {
        if (source[j] === "\\") {
          text += source[j + 1] ?? "";
          j += 2;
        } else {
          text += source[j];
          j++;
        }
      }
      strings.push(text);
      const token = `"#${strings.length - 1}"`;
      out += token + blank(source.slice(i, j + 1)).slice(token.length);
      i = j + 1;
      previous = '"';
    } else if (ch === "`") {
      const end = skipTemplate(source, i);
      const masked = blank(source.slice(i, end));
      out += "`#`" + masked.slice(3);
      i = end;
      previous = "`";
    } else if (ch === "/" && startsRegex(previous, out)) {
      const end = skipRegex(source, i);
      out += blank(source.slice(i, end));
      i = end;
      previous = "/";
    } else {
      out += ch;
      if (!/\s/.test(ch)) previous = ch;
      i++;
    }
  }
  return { code: out, strings };
}

function startsRegex(previous: string, before: string): boolean {
  if (previous === "" || "(,=:[!&|?{};+-*%<>~^".includes(previous)) return true;
  return /\b(?:return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new)\s*$/.test(
    before,
  );
}

function skipRegex(source: string, start: number): number {
  let j = start + 1;
  let inClass = false;
  while (j < source.length && source[j] !== "\n") {
    const c = source[j];
    if (c === "\\") j++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) {
      j++;
      while (j < source.length && /[a-z]/i.test(source[j]!)) j++;
      return j;
    }
    j++;
  }
  return j;
}

function skipTemplate(source: string, start: number): number {
  let j = start + 1;
  while (j < source.length) {
    const c = source[j];
    if (c === "\\") j += 2;
    else if (c === "`") return j + 1;
    else if (c === "$" && source[j + 1] === "{") {
      // Skip the substitution, counting braces and stepping over nested templates.
      let depth = 1;
      j += 2;
      while (j < source.length && depth > 0) {
        const d = source[j];
        if (d === "{") depth++;
        else if (d === "}") depth--;
        else if (d === "`") {
          j = skipTemplate(source, j);
          continue;
        } else if (d === '"' || d === "'") {
          j++;
          while (j < source.length && source[j] !== d && source[j] !== "\n") {
            if (source[j] === "\\") j++;
            j++;
          }
        }
        j++;
      }
    } else j++;
  }
  return j;
}

const STATIC_FROM = /\b(?:import|export)\b[^;"`]*?\bfrom\s*"#(\d+)"/g;
const SIDE_EFFECT = /\bimport\s*"#(\d+)"/g;
const DYNAMIC = /\b(?:import|require)\s*\(\s*(?:"#(\d+)"\s*[,)]|([^)\s][^)]*)\))/g;

/** The specifiers `source` imports, with their lines; `null` for a computed `import()`. */
export function importsOf(source: string): { line: number; specifier: string | null }[] {
  const { code, strings } = maskSource(source);
  const found: { index: number; specifier: string | null }[] = [];
  for (const pattern of [STATIC_FROM, SIDE_EFFECT]) {
    for (const match of code.matchAll(pattern)) {
      found.push({ index: match.index, specifier: strings[Number(match[1])]! });
    }
  }
  for (const match of code.matchAll(DYNAMIC)) {
    // `import.meta` and a method named `import(...)` on an object are not imports.
    if (match.index > 0 && code[match.index - 1] === ".") continue;
    found.push({
      index: match.index,
      specifier: match[1] === undefined ? null : strings[Number(match[1])]!,
    });
  }
  const lineOf = (index: number) => code.slice(0, index).split("\n").length;
  return found
    .sort((a, b) => a.index - b.index)
    .map(({ index, specifier }) => ({ line: lineOf(index), specifier }));
}

/** Checks every source file under `directory`; returns what it refuses. */
export async function checkDirectory(directory: string): Promise<Violation[]> {
  const root = new URL(`file://${await Deno.realPath(directory)}/`);
  const violations: Violation[] = [];
  const files: string[] = [];
  await collect(directory.replace(/\/+$/, ""), files);
  for (const file of files.sort()) {
    const fileUrl = new URL(`file://${await Deno.realPath(file)}`);
    for (const { line, specifier } of importsOf(await Deno.readTextFile(file))) {
      const reason = refusal(specifier, fileUrl, root);
      if (reason !== undefined) {
        violations.push({ file, line, specifier: specifier ?? "import(<computed>)", reason });
      }
    }
  }
  return violations;
}

async function collect(directory: string, files: string[]): Promise<void> {
  for await (const entry of Deno.readDir(directory)) {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory) await collect(path, files);
    else if (entry.isFile && SOURCE.test(entry.name)) files.push(path);
  }
}

function refusal(specifier: string | null, fileUrl: URL, root: URL): string | undefined {
  if (specifier === null) return "a computed import() cannot be checked";
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/")) {
    const target = new URL(specifier, fileUrl);
    return target.href.startsWith(root.href) ? undefined : "leads outside the package";
  }
  if (isAllowedExternal(specifier)) return undefined;
  return 'the package may import only "hono", "hono/..." and its own files';
}

if (import.meta.main) {
  const directory = Deno.args[0] ?? "src/session";
  const violations = await checkDirectory(directory);
  for (const { file, line, specifier, reason } of violations) {
    console.error(`${file}:${line}: ${JSON.stringify(specifier)}: ${reason}`);
  }
  if (violations.length > 0) {
    console.error(`check_package_imports: ${violations.length} refused import(s) in ${directory}`);
    Deno.exit(1);
  }
  console.log(`check_package_imports: every import in ${directory} is allowed`);
}
