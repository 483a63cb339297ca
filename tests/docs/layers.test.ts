/**
 * STYLE.md rule 3: no deep imports across layers. The layers are the top-level folders
 * `schema/ codegen/ runtime/ server/`; a module of one imports another only through that
 * layer's entry points:
 * - `<layer>/index.ts`, the layer's library;
 * - `<layer>/cli/index.ts`, its `entdb` subcommands (what `bin/entdb.ts` loads at start-up,
 *   so one layer's commands reuse another's without loading the other's whole library);
 * - `runtime/v1.ts`, `runtime/web.ts`, `runtime/node.ts`, the runtime's published entry
 *   points (DESIGN.md: the runtime is apart and browser-safe);
 * - `schema/served.ts`, the schema layer without its compiler: the model, lock files,
 *   fingerprints and compatibility rules, for server modules a restore's apply threads load;
 * - `codegen/store-layout/index.ts`, a tenant database's layout, which the server's store,
 *   applier and search share with the `indexes.sql` printer: through it a server thread
 *   (a restore's apply threads) loads the layout without the whole code generator.
 * Static imports, re-exports, `import type` and dynamic `import()` all count.
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../..");
const LAYERS = ["schema", "codegen", "runtime", "server"] as const;

/** The modules another layer may import, per layer. */
const ENTRY_POINTS: Readonly<Record<string, readonly string[]>> = {
  schema: ["schema/index.ts", "schema/cli/index.ts", "schema/served.ts"],
  codegen: ["codegen/index.ts", "codegen/cli/index.ts", "codegen/store-layout/index.ts"],
  runtime: ["runtime/v1.ts", "runtime/web.ts", "runtime/node.ts"],
  server: ["server/index.ts", "server/cli/index.ts"],
};

function tsFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f))
    .sort();
}

/** Every import of a layer's module into another layer but not through an entry point, as `from -> to`. */
function deepCrossLayerImports(): string[] {
  const out: string[] = [];
  for (const layer of LAYERS) {
    for (const file of tsFiles(layer)) {
      const info = ts.preProcessFile(readFileSync(join(repoRoot, file), "utf8"), true, true);
      for (const { fileName } of info.importedFiles) {
        if (!fileName.startsWith(".")) continue;
        const target = relative(repoRoot, resolve(repoRoot, dirname(file), fileName));
        const targetLayer = target.split("/")[0] ?? "";
        if (targetLayer === layer || !(targetLayer in ENTRY_POINTS)) continue;
        if (ENTRY_POINTS[targetLayer]?.includes(target)) continue;
        out.push(`${file} -> ${target}`);
      }
    }
  }
  return out;
}

describe("layers", () => {
  it("import each other only through their entry points", () => {
    expect(deepCrossLayerImports()).toEqual([]);
  });

  it("sees imports of every kind (the check itself)", () => {
    const info = ts.preProcessFile(
      [
        'import type { A } from "../schema/model.ts";',
        'export { b } from "../schema/lock.ts";',
        'const c = await import("../schema/compile.ts");',
      ].join("\n"),
      true,
      true,
    );
    expect(info.importedFiles.map((f) => f.fileName)).toEqual([
      "../schema/model.ts",
      "../schema/lock.ts",
      "../schema/compile.ts",
    ]);
  });
});
