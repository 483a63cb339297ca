import { describe, expect, it } from "vitest";
import { hiddenImports, isExported, packageSpecifiers, splitSpecifier } from "./package-exports.ts";
import { REPO_ROOT } from "./repo-temp-dir.ts";

describe("imports of installed packages", () => {
  it("reach only what each package's exports map allows", () => {
    expect(hiddenImports(REPO_ROOT)).toEqual([]);
  });

  it("are found in every import form, without relative paths and built-ins", () => {
    const text = [
      'import { create } from "@bufbuild/protobuf";',
      'import type { X } from "@bufbuild/protobuf/wkt";',
      'export { y } from "entdb/runtime/v1";',
      'import "side-effect";',
      'const m = await import("dyn/sub");',
      'const r = require("@scope/req/deep/file.js");',
      'const p = require.resolve("resolved");',
      'import { join } from "node:path";',
      'import { readFile } from "fs";',
      'import { local } from "./local.ts";',
    ].join("\n");
    expect(packageSpecifiers(text)).toEqual([
      "@bufbuild/protobuf",
      "@bufbuild/protobuf/wkt",
      "entdb/runtime/v1",
      "side-effect",
      "dyn/sub",
      "@scope/req/deep/file.js",
      "resolved",
    ]);
    expect(splitSpecifier("@bufbuild/protobuf/dist/cjs/codegenv2/embed.js")).toEqual([
      "@bufbuild/protobuf",
      "./dist/cjs/codegenv2/embed.js",
    ]);
    expect(splitSpecifier("vitest")).toEqual(["vitest", "."]);
  });

  it("are refused past the exports map, as Node refuses them", () => {
    const protobuf = {
      ".": { import: "./dist/esm/index.js", require: "./dist/cjs/index.js" },
      "./wkt": { import: "./dist/esm/wkt/index.js" },
    };
    expect(isExported(protobuf, ".")).toBe(true);
    expect(isExported(protobuf, "./wkt")).toBe(true);
    expect(isExported(protobuf, "./dist/cjs/codegenv2/embed.js")).toBe(false);
    expect(isExported(protobuf, "./package.json")).toBe(false);
    // No exports map: every file is reachable.
    expect(isExported(undefined, "./dist/cjs/src/plugin.js")).toBe(true);
    // A string or a conditions object is the main entry only.
    expect(isExported("./index.js", ".")).toBe(true);
    expect(isExported("./index.js", "./index.js")).toBe(false);
    expect(isExported({ import: "./a.js", require: "./a.cjs" }, "./a.js")).toBe(false);
    // Patterns, and null targets that hide part of a pattern.
    const patterned = {
      ".": "./i.js",
      "./features/*.js": "./src/*.js",
      "./features/private/*": null,
    };
    expect(isExported(patterned, "./features/x.js")).toBe(true);
    expect(isExported(patterned, "./features/private/x.js")).toBe(false);
    expect(isExported(patterned, "./other.js")).toBe(false);
  });
});
