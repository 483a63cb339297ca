/**
 * Which of the repository's imports of installed packages reach past a package's public
 * API: a specifier (`@bufbuild/protobuf/dist/cjs/codegenv2/embed.js`) whose subpath the
 * package's `package.json` `exports` map does not list is an import of the package's
 * internals, which a patch release may move or change without notice.
 *
 * The scan reads every source file of the repository (not `node_modules/`, not temp
 * dirs) and takes the specifiers of `import … from`, `export … from`, `import "…"`,
 * `import("…")`, `require("…")` and `require.resolve("…")`. Relative and absolute paths
 * and Node's built-in modules are not package imports. A package without an `exports`
 * map exposes every file (Node's rule), so any subpath of it is allowed.
 */

import { readdirSync, readFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { join, relative } from "node:path";

/** A package import that its package's `exports` map does not allow. */
export interface HiddenImport {
  /** The importing file, relative to the repository root. */
  readonly file: string;
  readonly specifier: string;
  /** Why it is refused. */
  readonly reason: string;
}

/** Directories never scanned: dependencies, build output, scratch space. */
const SKIPPED_DIRS = new Set(["node_modules", ".git", ".tmp", "dist", "data", ".entdb-data"]);

const SOURCE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;

/**
 * The specifier of each import form listed above (group 1, 2 or 3): a statement that
 * starts a line (so schema text such as `from User to Team` in a template is not taken
 * for one), a side-effect import, or a call.
 */
const SPECIFIER =
  /(?:^|[\n;])[ \t]*(?:import|export)\b[^;"'`=()]*?\bfrom[ \t]*["']([^"'\s]+)["']|(?:^|[\n;])[ \t]*import[ \t]*["']([^"'\s]+)["']|\b(?:import|require|require\.resolve)\(\s*["']([^"'\s]+)["']\s*\)/g;

/** An npm package name, optionally with a subpath. */
const PACKAGE_SPECIFIER = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(?:\/.*)?$/;

/** The source files of the repository below `root`, relative to it, sorted. */
export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith(".tmp")) {
          walk(join(dir, entry.name));
        }
      } else if (SOURCE_FILE.test(entry.name)) {
        files.push(relative(root, join(dir, entry.name)));
      }
    }
  };
  walk(root);
  return files.sort();
}

/** The package specifiers `text` imports (relative paths and built-ins left out). */
export function packageSpecifiers(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? match[3] ?? "";
    if (!PACKAGE_SPECIFIER.test(specifier) || isBuiltin(specifier)) continue;
    found.add(specifier);
  }
  return [...found];
}

/** `@scope/name/sub/path` → `["@scope/name", "./sub/path"]`; no subpath → `"."`. */
export function splitSpecifier(specifier: string): [name: string, subpath: string] {
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameLength).join("/");
  const rest = parts.slice(nameLength);
  return [name, rest.length === 0 ? "." : `./${rest.join("/")}`];
}

/**
 * Whether `subpath` (`"."`, `"./wkt"`) is exported by a package whose `exports` field is
 * `exports` (`undefined` when the package has none: everything is exported). A key
 * with a `*` matches any text in its place; a `null` target hides what it matches.
 */
export function isExported(exports: unknown, subpath: string): boolean {
  if (exports === undefined) return true;
  if (typeof exports === "string" || Array.isArray(exports)) return subpath === ".";
  if (typeof exports !== "object" || exports === null) return false;
  const keys = Object.keys(exports);
  // An object of conditions (no key starts with "."): the package's main entry only.
  if (!keys.some((k) => k.startsWith("."))) return subpath === ".";
  const map = exports as Record<string, unknown>;
  if (subpath in map) return map[subpath] !== null;
  // The most specific pattern wins, as in Node: the longest prefix before the `*`.
  const patterns = keys
    .filter((k) => k.includes("*"))
    .filter((k) => {
      const [prefix = "", suffix = ""] = k.split("*");
      return (
        subpath.length >= prefix.length + suffix.length &&
        subpath.startsWith(prefix) &&
        subpath.endsWith(suffix)
      );
    })
    .sort((a, b) => b.indexOf("*") - a.indexOf("*") || b.length - a.length);
  const best = patterns[0];
  return best !== undefined && map[best] !== null;
}

/**
 * Every import in the repository at `root` of a package subpath its `exports` map does
 * not allow. The repository's own package name is checked against its own `exports`
 * (generated code imports `entdb/runtime/v1`); a package not in `node_modules/` (the
 * packed `@entdb/*` packages a test installs elsewhere) has no map here to check against.
 */
export function hiddenImports(root: string): HiddenImport[] {
  const manifests = new Map<string, { exports: unknown } | undefined>();
  const self = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    exports?: unknown;
  };
  manifests.set(self.name, { exports: self.exports });
  const manifestOf = (name: string): { exports: unknown } | undefined => {
    if (!manifests.has(name)) {
      let manifest: { exports: unknown } | undefined;
      try {
        const json = JSON.parse(
          readFileSync(join(root, "node_modules", name, "package.json"), "utf8"),
        ) as { exports?: unknown };
        manifest = { exports: json.exports };
      } catch {
        manifest = undefined;
      }
      manifests.set(name, manifest);
    }
    return manifests.get(name);
  };
  const hidden: HiddenImport[] = [];
  for (const file of sourceFiles(root)) {
    for (const specifier of packageSpecifiers(readFileSync(join(root, file), "utf8"))) {
      const [name, subpath] = splitSpecifier(specifier);
      const manifest = manifestOf(name);
      if (manifest !== undefined && !isExported(manifest.exports, subpath)) {
        hidden.push({
          file,
          specifier,
          reason: `'${subpath}' is not in the exports map of '${name}'`,
        });
      }
    }
  }
  return hidden;
}
