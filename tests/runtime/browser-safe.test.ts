import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../..");

/**
 * Every module reachable from `entry` through static and dynamic imports: the repo
 * files (followed) and the package specifiers (recorded, not followed).
 */
function importGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith(".")) {
        visit(join(dirname(file), fileName));
      } else {
        packages.add(fileName);
      }
    }
  };
  visit(join(repoRoot, entry));
  return {
    files: [...files].map((f) => relative(repoRoot, f)).sort(),
    packages: [...packages].sort(),
  };
}

function nodeOnly(specifier: string): boolean {
  return (
    specifier.startsWith("node:") ||
    builtinModules.includes(specifier) ||
    specifier === "@connectrpc/connect-node"
  );
}

describe("browser safety", () => {
  it("runtime/v1.ts reaches no Node built-in and no Node-only package", () => {
    const graph = importGraph("runtime/v1.ts");
    expect(graph.packages.filter(nodeOnly)).toEqual([]);
    expect(graph.packages).toEqual([
      "@bufbuild/protobuf",
      "@bufbuild/protobuf/codegenv2",
      "@bufbuild/protobuf/wkt",
      "@connectrpc/connect",
    ]);
    expect(graph.files).toContain("runtime/client-core.ts");
    expect(graph.files).toContain("generated/entdb/v1/entdb_pb.js");
    expect(graph.files).not.toContain("runtime/node.ts");
  });

  it("runtime/web.ts reaches no Node built-in and no Node-only package", () => {
    const graph = importGraph("runtime/web.ts");
    expect(graph.packages.filter(nodeOnly)).toEqual([]);
    // protobuf: the redirect transport reads the `entdbcluster.v1.TenantOwner` error detail.
    expect(graph.packages).toEqual([
      "@bufbuild/protobuf",
      "@bufbuild/protobuf/codegenv2",
      "@connectrpc/connect",
      "@connectrpc/connect-web",
    ]);
  });

  it("detects Node-only imports (the check is not vacuous)", () => {
    expect(importGraph("runtime/node.ts").packages.filter(nodeOnly)).toEqual([
      "@connectrpc/connect-node",
    ]);
    expect(nodeOnly("node:fs")).toBe(true);
    expect(nodeOnly("crypto")).toBe(true);
  });
});
