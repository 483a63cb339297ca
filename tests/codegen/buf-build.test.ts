/**
 * Standard tooling accepts the generated `.proto` files: `buf build` compiles the written
 * files, and what it compiles is exactly the descriptors codegen built in-process (same
 * messages, fields, options, imports, and the same source locations and comments).
 */

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clone, equals, fromBinary } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProtoFiles } from "../../codegen/proto/build-descriptor.ts";
import { type PrintedProto, printProtoFiles } from "../../codegen/proto/print-proto.ts";
import { createGeneratedFile } from "../../codegen/writer/generated-file.ts";
import { writeGenerated } from "../../codegen/writer/write-generated.ts";
import type { Schema } from "../../schema/model.ts";
import { kitchenSinkSchema } from "./fixture-schemas.ts";
import { makeRepoTempDir, REPO_ROOT, removeRepoTempDir } from "./repo-temp-dir.ts";
import { trackerSchema } from "./tracker-schema.ts";

const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

let root: string;
beforeAll(() => {
  root = makeRepoTempDir("codegen-buf");
});
afterAll(() => removeRepoTempDir(root));

interface BufResult {
  readonly status: number | null;
  readonly stderr: string;
  /** The built files by path. */
  readonly files: ReadonlyMap<string, FileDescriptorProto>;
}

/** Writes `protos` (as the writer would) into a fresh buf module and builds it. */
async function bufBuild(name: string, protos: readonly PrintedProto[]): Promise<BufResult> {
  const module = join(root, name);
  await writeGenerated(
    module,
    protos.map((p) => createGeneratedFile(p.path, p.text)),
    { schemaPath: "schema.entdb" },
  );
  writeFileSync(join(module, "buf.yaml"), "version: v2\n");
  const image = join(root, `${name}.binpb`);
  const run = spawnSync(BUF, ["build", module, "-o", image], {
    encoding: "utf8",
    env: { ...process.env, BUF_CACHE_DIR: join(root, "cache") },
  });
  if (run.status !== 0) return { status: run.status, stderr: run.stderr, files: new Map() };
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(image));
  return {
    status: run.status,
    stderr: run.stderr,
    files: new Map(set.file.map((f) => [f.name, f])),
  };
}

function withoutSourceInfo(file: FileDescriptorProto): FileDescriptorProto {
  const copy = clone(FileDescriptorProtoSchema, file);
  copy.sourceCodeInfo = undefined;
  return copy;
}

async function expectBufAgrees(name: string, schema: Schema): Promise<void> {
  const protos = buildProtoFiles(schema);
  const result = await bufBuild(
    name,
    protos.map((p) => ({ path: p.descriptor.name, text: p.text })),
  );
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(protos.length).toBeGreaterThan(1);
  for (const { descriptor } of protos) {
    const built = result.files.get(descriptor.name)!;
    expect(
      equals(FileDescriptorProtoSchema, withoutSourceInfo(built), withoutSourceInfo(descriptor)),
    ).toBe(true);
    // buf records many more locations (names, numbers…); ours must be among them, equal.
    const bufLocations = new Map(
      (built.sourceCodeInfo?.location ?? []).map((l) => [l.path.join(","), l]),
    );
    const ours = descriptor.sourceCodeInfo?.location ?? [];
    expect(ours.length).toBeGreaterThan(0);
    const mismatches = ours
      .map((l) => ({ ours: l, buf: bufLocations.get(l.path.join(",")) }))
      .filter(
        ({ ours, buf }) =>
          buf === undefined ||
          buf.span.join(",") !== ours.span.join(",") ||
          buf.leadingComments !== ours.leadingComments,
      )
      .map(({ ours }) => `${descriptor.name} ${ours.path.join(",")}`);
    expect(mismatches).toEqual([]);
  }
}

/**
 * The STANDARD lint rules the generated `.proto` does not follow, each on purpose
 * (docs/generated-proto.md, "Lint" says why). Any other finding fails the test.
 */
const LINT_EXCEPTIONS = [
  "PACKAGE_VERSION_SUFFIX",
  "RPC_REQUEST_STANDARD_NAME",
  "RPC_RESPONSE_STANDARD_NAME",
  "RPC_REQUEST_RESPONSE_UNIQUE",
] as const;

/** `buf lint` (STANDARD, less `except`) on the generated `.proto` of `schema`. */
async function bufLint(name: string, schema: Schema, except: readonly string[]): Promise<string[]> {
  const module = join(root, name);
  await writeGenerated(
    module,
    printProtoFiles(schema).map((p) => createGeneratedFile(p.path, p.text)),
    { schemaPath: "schema.entdb" },
  );
  const exceptLines = except.map((rule) => `    - ${rule}\n`).join("");
  writeFileSync(
    join(module, "buf.yaml"),
    `version: v2\nlint:\n  use:\n    - STANDARD\n${except.length > 0 ? `  except:\n${exceptLines}` : ""}`,
  );
  const run = spawnSync(BUF, ["lint", module, "--error-format=json"], {
    encoding: "utf8",
    env: { ...process.env, BUF_CACHE_DIR: join(root, "cache") },
  });
  return run.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (JSON.parse(line) as { type: string }).type);
}

describe("buf lint", () => {
  it("finds nothing in the tracker's .proto but the documented exceptions", async () => {
    expect(await bufLint("lint-tracker", trackerSchema(), LINT_EXCEPTIONS)).toEqual([]);
  });

  it("finds nothing in the kitchen-sink .proto but the documented exceptions", async () => {
    expect(await bufLint("lint-sink", kitchenSinkSchema(), LINT_EXCEPTIONS)).toEqual([]);
  });

  it("does report the excepted rules when they are not excepted, so the list stays honest", async () => {
    const found = new Set(await bufLint("lint-all", trackerSchema(), []));
    expect([...found].sort()).toEqual([...LINT_EXCEPTIONS].sort());
  });
});

describe("buf build", () => {
  it("compiles the tracker example's .proto to exactly the in-process descriptor", async () => {
    await expectBufAgrees("tracker", trackerSchema());
  });

  it("compiles the kitchen-sink .proto to exactly the in-process descriptor", async () => {
    await expectBufAgrees("sink", kitchenSinkSchema());
  });

  it("rejects a broken .proto, so a passing build means something", async () => {
    const protos = printProtoFiles(kitchenSinkSchema()).map((p) =>
      p.path === "acme/sink/v1/item.proto"
        ? { ...p, text: p.text.replace("optional int64 count = 2;", "optional int64 count = 1;") }
        : p,
    );
    expect(protos.map((p) => p.text)).not.toEqual(
      printProtoFiles(kitchenSinkSchema()).map((p) => p.text),
    );
    const result = await bufBuild("broken", protos);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toBe(
      `${join(root, "broken", "acme/sink/v1/item.proto")}:15:26:field number \`1\` used more than once\n`,
    );
  });
});
