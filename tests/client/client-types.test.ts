import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateClient } from "../../codegen/client/index.ts";
import { compileSchema } from "../../schema/compile.ts";
import { FakeEntDb } from "../runtime/fake-entdb-service.ts";
import { trackerSchema } from "./tracker-schema.ts";

const here = import.meta.dirname;
const repoRoot = join(here, "../..");
let dir = "";
/** Diagnostics per temp file, from one program over all of them (one type-check run). */
let diagnostics = new Map<string, string[]>();

/** The repository's compiler options (strict, exactOptionalPropertyTypes, …). */
function repoCompilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(repoRoot, "tsconfig.json"), ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config.config, ts.sys, repoRoot).options;
}

/** Type-checks the temp dir's files; diagnostics as `file:line code message` lines. */
function typeCheck(files: readonly string[]): Map<string, string[]> {
  const program = ts.createProgram(
    files.map((f) => join(dir, f)),
    { ...repoCompilerOptions(), noEmit: true },
  );
  const out = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    // Only the temp dir's files: the runtime is checked by the project's own tsc run.
    if (d.file === undefined || !d.file.fileName.startsWith(dir)) continue;
    const name = relative(dir, d.file.fileName);
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n")[0];
    out.get(name)?.push(`${name}:${line + 1} TS${d.code} ${message}`);
  }
  return out;
}

/** The `ts` code blocks of docs/client.md, with imports pointed at the temp dir. */
function docExamples(): string[] {
  const markdown = readFileSync(join(repoRoot, "docs/client.md"), "utf8");
  const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
  const specifiers: Record<string, string> = {
    "./tracker/client.ts": "./client.ts",
    "entdb/runtime/v1": "../runtime/v1.ts",
    "entdb/runtime/node": "../runtime/node.ts",
    "entdb/runtime/web": "../runtime/web.ts",
  };
  return blocks.map((code) =>
    code.replace(/from "([^"]+)";/g, (all, spec: string) => {
      const mapped = specifiers[spec];
      return mapped === undefined ? all : `from "${mapped}";`;
    }),
  );
}

let docFiles: string[] = [];

/** The schema of the Python mailbox tests: one searchable node type of three. */
function mailSchema() {
  const path = "tests/python/mail/schema.entdb";
  const result = compileSchema({ path, text: readFileSync(join(repoRoot, path), "utf8") });
  if (result.schema === undefined) throw new Error(`${path} does not compile`);
  return result.schema;
}

beforeAll(() => {
  dir = mkdtempSync(join(repoRoot, ".tmp-client-"));
  const { content } = generateClient(trackerSchema(), { runtimeImport: "../runtime/v1.ts" });
  writeFileSync(join(dir, "client.ts"), content);
  copyFileSync(join(here, "fixtures/tracker-usage.ts.txt"), join(dir, "usage.ts"));
  copyFileSync(join(here, "fixtures/tracker-wrong.ts.txt"), join(dir, "wrong.ts"));
  const mail = generateClient(mailSchema(), { runtimeImport: "../runtime/v1.ts" });
  writeFileSync(join(dir, "mail-client.ts"), mail.content);
  copyFileSync(join(here, "fixtures/mail-usage.ts.txt"), join(dir, "mail-usage.ts"));
  docFiles = docExamples().map((code, i) => {
    writeFileSync(join(dir, `doc-${i + 1}.ts`), code);
    return `doc-${i + 1}.ts`;
  });
  diagnostics = typeCheck([
    "client.ts",
    "usage.ts",
    "wrong.ts",
    "mail-client.ts",
    "mail-usage.ts",
    ...docFiles,
  ]);
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("generated client types", () => {
  it("compiles under the strictest options the project uses", () => {
    const options = repoCompilerOptions();
    expect(options).toMatchObject({
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      erasableSyntaxOnly: true,
    });
    // Every expectTypeOf holds and every @ts-expect-error line is an error.
    expect(diagnostics.get("client.ts")).toEqual([]);
    expect(diagnostics.get("usage.ts")).toEqual([]);
  });

  it("types search hits by the searchable types and mailbox items by every node type", () => {
    expect(diagnostics.get("mail-client.ts")).toEqual([]);
    expect(diagnostics.get("mail-usage.ts")).toEqual([]);
  });

  it("reports readable errors for the mistakes the types forbid", () => {
    expect(diagnostics.get("wrong.ts")).toEqual([
      "wrong.ts:6 TS2345 Argument of type '{ project: string; number: bigint; }' is not assignable to parameter of type 'TaskCreate'.",
      "wrong.ts:7 TS2561 Object literal may only specify known properties, but 'titel' does not exist in type 'TaskCreate'. Did you mean to write 'title'?",
      "wrong.ts:8 TS2322 Type 'null' is not assignable to type 'string | undefined'.",
      "wrong.ts:9 TS2353 Object literal may only specify known properties, and 'lt' does not exist in type 'EqualityFilter<TaskStatus>'.",
      `wrong.ts:10 TS2322 Type '"blocked"' is not assignable to type 'TaskStatus | undefined'.`,
      "wrong.ts:11 TS2322 Type 'bigint' is not assignable to type 'number'.",
      // Typed ids: a Team read or id where the edge goes to a User, directly and in a plan.
      `wrong.ts:13 TS2345 Argument of type 'Team' is not assignable to parameter of type 'NodeId<"User">'.`,
      `wrong.ts:14 TS2345 Argument of type 'Id<"Team">' is not assignable to parameter of type 'NodeId<"User">'.`,
      `wrong.ts:15 TS2345 Argument of type 'Id<"Team">' is not assignable to parameter of type 'PlanNodeRef<"User">'.`,
      // Create-if-absent takes only a unique key; a field precondition takes the field's type.
      `wrong.ts:16 TS2322 Type '"title"' is not assignable to type '"number" | "project"'.`,
      "wrong.ts:17 TS2322 Type 'number' is not assignable to type 'TaskStatus | undefined'.",
      // Node accessors take ids of their own type only; a ref field reads as its target's id.
      `wrong.ts:18 TS2345 Argument of type 'Id<"Team">' is not assignable to parameter of type 'Id<"Task">'.`,
      `wrong.ts:19 TS2345 Argument of type 'Id<"Project">' is not assignable to parameter of type 'NodeId<"Task">'.`,
      // Results across types: a node's properties only after narrowing by `type`, and
      // only those of that type; `type` is an accessor name or `type <id>`.
      "wrong.ts:26 TS2339 Property 'title' does not exist on type 'UnknownNode | User | Team | Project | Task | Comment'.",
      "wrong.ts:27 TS2339 Property 'name' does not exist on type 'Task'.",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: tsc's message spells the template literal type.
      'wrong.ts:28 TS2367 This comparison appears to be unintentional because the types \'"comment" | `type ${number}` | "team" | "project" | "task" | "user"\' and \'"tsak"\' have no overlap.',
      `wrong.ts:31 TS7053 Element implicitly has an 'any' type because expression of type '"subject"' can't be used to index type 'UnknownNode | User | Team | Project | Task | Comment'.`,
      "wrong.ts:32 TS2339 Property 'title' does not exist on type 'Comment'.",
    ]);
  });

  it("compiles every example of docs/client.md", () => {
    expect(docFiles).toHaveLength(11);
    for (const file of docFiles) expect(diagnostics.get(file)).toEqual([]);
  });

  it("runs the atomic plan example of docs/client.md", async () => {
    const fake = new FakeEntDb();
    const { createClient } = await importFrom<{ createClient(o: object): unknown }>(
      "client.ts",
      "createClient",
    );
    const example = docFiles.find((f) => readFileSync(join(dir, f), "utf8").includes("planLaunch"));
    const { planLaunch } = await importFrom<{
      planLaunch(db: unknown, user: string): Promise<unknown>;
    }>(example ?? "", "planLaunch");
    const result = await planLaunch(
      createClient({ transport: fake.transport, tenant: "acme" }),
      "user-1",
    );
    expect(result).toEqual({
      team: "node-1",
      project: "node-2",
      tasks: ["node-3", "node-4"],
      position: { partition: 0, offset: 1n },
    });
    expect(fake.callsOf("executePlan")).toHaveLength(1);
  });

  it("runs the type-checked usage against an in-memory server", async () => {
    const fake = new FakeEntDb();
    const usage: unknown = await import(pathToFileURL(join(dir, "usage.ts")).href);
    if (!isUsage(usage)) throw new Error("usage.ts does not export run()");
    const result = await usage.run(fake.transport);
    expect(result).toMatchObject({
      team: { id: "node-1", version: 1n },
      read: {
        id: "node-4",
        number: 9223372036854775807n,
        title: "Ship",
        labels: ["launch"],
        estimateMinutes: 90n,
        status: undefined,
      },
      updated: { id: "node-4", version: 2n },
      byKey: {
        id: "node-4",
        title: "Ship it",
        estimateMinutes: 30n,
        status: "in_progress",
        body: undefined,
      },
      byEmail: { id: "node-2", displayName: "Ada", joinedAt: new Date("2024-01-01T00:00:00Z") },
      page: { items: [{ id: "node-4" }], next: undefined },
      assignments: {
        items: [{ from: "node-4", to: "node-2", assignedAt: new Date("2024-02-01T00:00:00Z") }],
        totalCount: 1n,
      },
      created: { team: "node-5", project: "node-6", tasks: ["node-7", "node-8"] },
      blocks: { items: [{ from: "node-8", to: "node-7", note: "after" }] },
    });
    expect(result).toHaveProperty("many", [expect.objectContaining({ id: "node-4" }), undefined]);
  });
});

function isUsage(value: unknown): value is { run(transport: unknown): Promise<unknown> } {
  return (
    typeof value === "object" && value !== null && "run" in value && typeof value.run === "function"
  );
}

/** Imports a temp-dir module after checking it exports function `name`. */
async function importFrom<T>(file: string, name: string): Promise<T> {
  const module: unknown = await import(pathToFileURL(join(dir, file)).href);
  if (typeof module !== "object" || module === null || !(name in module)) {
    throw new Error(`${file} does not export ${name}`);
  }
  // Checked above that the export exists; its signature is the one tsc checked.
  return module as T;
}
