import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const here = (file: string): string =>
  JSON.stringify(pathToFileURL(join(import.meta.dirname, file)).href);
const root = join(import.meta.dirname, "..", "..");

describe("protoc-gen-es loader", () => {
  it("runs protoc-gen-es in a fresh process without loading the TypeScript compiler", () => {
    // A fresh process: the test runner's own may have loaded the compiler already.
    const script = `
      import { createRequire } from "node:module";
      import { buildFileDescriptor } from ${here("build-descriptor.ts")};
      import { generateEs } from ${here("generate-es.ts")};
      import { requireProtopluginModule } from ${here("protoc-gen-es-loader.ts")};
      import { minimalSchema } from ${JSON.stringify(pathToFileURL(join(root, "tests/codegen/fixture-schemas.ts")).href)};

      const files = generateEs(buildFileDescriptor(minimalSchema())).map((f) => f.path);
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      let transpile = "";
      try {
        requireProtopluginModule("transpile.js").transpile([], true, true, "module");
      } catch (err) {
        transpile = err.message;
      }
      console.log(JSON.stringify({
        files,
        plugin: loaded.some((p) => p.endsWith("protoc-gen-es-plugin.js")),
        typescript: loaded.filter((p) => /[\\\\/]node_modules[\\\\/]typescript[\\\\/]/.test(p)),
        transpile,
      }));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      files: ["demo/notes/schema_pb.js", "demo/notes/schema_pb.d.ts"],
      plugin: true,
      typescript: [],
      transpile:
        "protoplugin's TypeScript transpiler is not loaded in entdb: generate with protoc-gen-es's own js and dts generators (target=js+dts).",
    });
  }, 20_000);
});
