/**
 * The protobuf-es output of the generated `.proto` files (JavaScript plus declarations):
 * its exact text for the kitchen-sink schema (JSDoc trimmed), the
 * declarations type-check under the repo's strict settings and type a caller's code, the
 * JavaScript runs under plain Node with no TypeScript transform, and its wire format
 * agrees with a registry built straight from the in-process descriptor (int64 beyond
 * 2^53 included).
 */

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { create, createFileRegistry, fromBinary, isFieldSet, toBinary } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateProto } from "../../codegen/proto/generate-proto.ts";
import { writeGenerated } from "../../codegen/writer/write-generated.ts";
import { expectMatchesFile } from "./expect-file.ts";
import { kitchenSinkSchema } from "./fixture-schemas.ts";
import { makeRepoTempDir, REPO_ROOT, removeRepoTempDir } from "./repo-temp-dir.ts";
import { trackerSchema } from "./tracker-schema.ts";

/** Beyond 2^53: a float64 on the way would change it. */
const BIG = 2n ** 60n + 7n;
const output = generateProto(trackerSchema());
const sinkOutput = generateProto(kitchenSinkSchema());
const registry = createFileRegistry(
  create(FileDescriptorSetSchema, {
    file: [
      file_google_protobuf_struct.proto,
      file_google_protobuf_timestamp.proto,
      ...output.descriptors,
    ],
  }),
);

let dir: string;
/** `task_pb.js`, which declares `Task`, and `schema_pb.js`, which declares `TaskStatus`. */
let taskPath: string;
let sharedPath: string;

beforeAll(async () => {
  dir = makeRepoTempDir("codegen-es");
  await writeGenerated(dir, [...output.files, ...sinkOutput.files], { schemaPath: "schema.entdb" });
  taskPath = join(dir, "acme/tracker/task_pb.js");
  sharedPath = join(dir, "acme/tracker/schema_pb.js");
});

afterAll(() => removeRepoTempDir(dir));

/**
 * The diagnostics (`file:line: message`) of type-checking `usages` (modules written
 * beside the generated code) together with every generated `.d.ts` file under the repo's
 * compiler options, declarations included (no `skipLibCheck`). One program for all of
 * them: building it is most of the cost.
 */
function typeCheck(usages: Readonly<Record<string, string>>): string[] {
  const paths = Object.entries(usages).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  });
  const config = ts.readConfigFile(join(REPO_ROOT, "tsconfig.json"), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT);
  // Generated code needs neither Node nor DOM types; leaving them out halves the time.
  const program = ts.createProgram(
    [
      ...paths,
      ...[...output.files, ...sinkOutput.files]
        .filter((f) => f.path.endsWith(".d.ts"))
        .map((f) => join(dir, f.path)),
    ],
    { ...parsed.options, lib: ["lib.es2023.d.ts"], types: [], noEmit: true, skipLibCheck: false },
  );
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file === undefined || d.start === undefined
        ? ""
        : `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `;
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

function registryMessage(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (desc === undefined) throw new Error(`no ${typeName}`);
  return desc;
}

describe("protobuf-es output", () => {
  it("is a _pb.js with its _pb.d.ts next to each .proto", () => {
    const types = ["user", "team", "project", "task", "comment"];
    const edges = ["member_of", "assigned_to", "subtask_of", "blocked_by", "watches"];
    const names = ["schema", ...types, ...edges];
    expect(output.files.map((f) => f.path)).toEqual([
      ...names.map((n) => `acme/tracker/${n}.proto`),
      ...names.map((n) => `acme/tracker/${n}_pb.js`),
      ...names.map((n) => `acme/tracker/${n}_pb.d.ts`),
    ]);
    const file = (path: string) => output.files.find((f) => f.path === path)!.content;
    const js = file("acme/tracker/task_pb.js");
    const dts = file("acme/tracker/task_pb.d.ts");
    const preamble = [
      "// @generated from file acme/tracker/task.proto (package acme.tracker, syntax proto3)",
      "/* eslint-disable */",
    ];
    expect(js.split("\n", 2)).toEqual(preamble);
    expect(dts.split("\n", 2)).toEqual(preamble);
    // A type's file imports what it uses from the shared file.
    expect(js).toContain('import { file_acme_tracker_schema } from "./schema_pb.js";');
    // Descriptors are plain values in the JavaScript and typed only in the declarations,
    // so a caller's compiler has no initializer to check.
    expect(js).toContain("export const TaskSchema = /*@__PURE__*/\n  messageDesc(");
    expect(dts).toContain("export declare const TaskSchema: GenMessage<Task>;");
    // Enums are plain objects typed as a union of their values, not a `declare enum`.
    const sharedJs = file("acme/tracker/schema_pb.js");
    const sharedDts = file("acme/tracker/schema_pb.d.ts");
    expect(sharedJs).toContain("export const TaskStatus = /*@__PURE__*/\n  objEnum(");
    expect(sharedDts).toContain("export declare const TaskStatus: {");
    expect(sharedDts).not.toMatch(/\benum\s+\w+\s*\{/);
  });

  it("matches the expected JavaScript and declarations, JSDoc trimmed, for the kitchen-sink schema", () => {
    // `.txt`: the snapshots are data, not sources for the linter or the compiler.
    const es = sinkOutput.files.filter((f) => !f.path.endsWith(".proto"));
    expect(es.map((f) => f.path)).toEqual([
      ...["schema", "item", "shelf", "holds", "near"].map((n) => `acme/sink/v1/${n}_pb.js`),
      ...["schema", "item", "shelf", "holds", "near"].map((n) => `acme/sink/v1/${n}_pb.d.ts`),
    ]);
    for (const f of es) {
      expectMatchesFile(`kitchen-sink-es/${f.path.slice("acme/sink/v1/".length)}.txt`, f.content);
      expect(f.content).not.toContain("@generated from field");
    }
  });

  it("declarations type-check without skipLibCheck, type a caller's code and reject a wrong field", () => {
    const good = `
      import { create, toBinary } from "@bufbuild/protobuf";
      import { TaskStatus } from "./acme/tracker/schema_pb.js";
      import { type Task, TaskSchema } from "./acme/tracker/task_pb.js";

      const task: Task = create(TaskSchema, {
        number: ${BIG}n,
        status: TaskStatus.IN_REVIEW,
        labels: ["web"],
      });
      const status: TaskStatus | undefined = task.status;
      export const bytes: Uint8Array = toBinary(TaskSchema, task);
      export const seen: readonly [bigint | undefined, TaskStatus | undefined] = [task.number, status];
    `;
    const bad = `
      import { create } from "@bufbuild/protobuf";
      import { TaskSchema } from "./acme/tracker/task_pb.js";

      export const task = create(TaskSchema, { number: 7 });
    `;
    // Only the wrongly typed field is reported: the declarations and the good caller are clean.
    expect(typeCheck({ "usage-good.ts": good, "usage-bad.ts": bad })).toEqual([
      "usage-bad.ts:5: Type 'number' is not assignable to type 'bigint'.",
    ]);
  });

  it("round-trips a Task between the generated code and the descriptor's registry", async () => {
    const mod = (await import(pathToFileURL(taskPath).href)) as Record<string, unknown>;
    const shared = (await import(pathToFileURL(sharedPath).href)) as Record<string, unknown>;
    const TaskSchema = mod["TaskSchema"] as GenMessage<Message>;
    const TaskStatus = shared["TaskStatus"] as Record<string, number>;
    const task = create(TaskSchema, {
      project: "p_1",
      number: BIG,
      title: "Ship it",
      status: TaskStatus["IN_REVIEW"],
      estimateMinutes: 0n,
      labels: ["web", "urgent"],
    } as Record<string, unknown>);
    const bytes = toBinary(TaskSchema, task);

    const taskDesc = registryMessage("acme.tracker.Task");
    const decoded = fromBinary(taskDesc, bytes) as unknown as Record<string, unknown>;
    expect({
      project: decoded["project"],
      number: decoded["number"],
      title: decoded["title"],
      status: decoded["status"],
      estimateMinutes: decoded["estimateMinutes"],
      labels: decoded["labels"],
      body: decoded["body"],
    }).toEqual({
      project: "p_1",
      number: BIG,
      title: "Ship it",
      status: 3,
      estimateMinutes: 0n,
      labels: ["web", "urgent"],
      body: undefined,
    });
    // Explicit presence: a field set to its zero value is still set; an unset one is not.
    const field = (name: string) => taskDesc.fields.find((f) => f.name === name)!;
    const asMessage = decoded as unknown as Message;
    expect(isFieldSet(asMessage, field("estimate_minutes"))).toBe(true);
    expect(isFieldSet(asMessage, field("body"))).toBe(false);

    // And back: bytes written from the registry decode in the generated code.
    const back = fromBinary(TaskSchema, toBinary(taskDesc, asMessage)) as unknown as Record<
      string,
      unknown
    >;
    expect(back["number"]).toBe(BIG);
    expect(toBinary(TaskSchema, back as unknown as Message)).toEqual(bytes);
  });

  it("loads and encodes under plain Node with no TypeScript transform", () => {
    const script = `
      const { create, toBinary } = await import("@bufbuild/protobuf");
      const m = await import(${JSON.stringify(pathToFileURL(taskPath).href)});
      const { TaskStatus } = await import(${JSON.stringify(pathToFileURL(sharedPath).href)});
      const task = create(m.TaskSchema, { title: "t", number: ${BIG}n, status: TaskStatus.DONE });
      process.stdout.write(Buffer.from(toBinary(m.TaskSchema, task)).toString("hex"));
    `;
    const args = ["--no-experimental-strip-types", "--input-type=module", "-e", script];
    const run = spawnSync(process.execPath, args, {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    const decoded = fromBinary(
      registryMessage("acme.tracker.Task"),
      Buffer.from(run.stdout, "hex"),
    ) as unknown as Record<string, unknown>;
    expect([decoded["title"], decoded["number"], decoded["status"]]).toEqual(["t", BIG, 4]);
  });
});
