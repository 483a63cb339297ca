import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const here = (file: string): string =>
  JSON.stringify(pathToFileURL(join(import.meta.dirname, file)).href);
const root = join(import.meta.dirname, "..", "..");

describe("protoc-gen-es loader", () => {
  it("runs protoc-gen-es in a fresh process on the framework modules as installed", () => {
    // A fresh process: the test runner's own may have loaded the modules already.
    const script = `
      import { createRequire } from "node:module";
      import { buildFileDescriptors } from ${here("build-descriptor.ts")};
      import { generateEs } from ${here("generate-es.ts")};
      import { minimalSchema } from ${JSON.stringify(pathToFileURL(join(root, "tests/codegen/fixture-schemas.ts")).href)};

      const files = generateEs(buildFileDescriptors(minimalSchema())).map((f) => f.path);
      const cache = createRequire(import.meta.url).cache;
      const bufbuild = Object.values(cache).filter((m) => /[\\\\/]@bufbuild[\\\\/]/.test(m.filename));
      // A module planted in the cache has no children and was never read from its file;
      // protoplugin's transpile.js, as installed, requires the TypeScript compiler.
      const transpile = bufbuild.find((m) => m.filename.endsWith("transpile.js"));
      console.log(JSON.stringify({
        files,
        plugin: bufbuild.some((m) => m.filename.endsWith("protoc-gen-es-plugin.js")),
        allLoaded: bufbuild.every((m) => m.loaded),
        transpileRequires: transpile.children.map((c) => c.filename.includes("typescript")).includes(true),
      }));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      files: [
        "demo/notes/schema_pb.js",
        "demo/notes/note_pb.js",
        "demo/notes/schema_pb.d.ts",
        "demo/notes/note_pb.d.ts",
      ],
      plugin: true,
      allLoaded: true,
      transpileRequires: true,
    });
  }, 20_000);
});
