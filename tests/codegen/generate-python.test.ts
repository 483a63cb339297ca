/**
 * The Python generator without Python: the package's files and their text for a small
 * schema (golden files, `UPDATE_EXPECT=1` rewrites them), the names it refuses, the
 * `--python` flag and the `python` config key of `entdb generate`, and the drift check
 * of the runtime's embedded API descriptors. tests/python/ runs the output for real.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runGenerate } from "../../codegen/cli/index.ts";
import { CodegenError } from "../../codegen/codegen-error.ts";
import {
  API_DESCRIPTOR_PATH,
  apiDescriptorModule,
  generatePython,
} from "../../codegen/python/index.ts";
import { headerText } from "../../codegen/writer/header.ts";
import { compileSchema, type Schema } from "../../schema/index.ts";
import { expectMatchesFile } from "./expect-file.ts";
import { makeRepoTempDir, REPO_ROOT, removeRepoTempDir } from "./repo-temp-dir.ts";

const SCHEMA = `package acme.notes;

/// How far along a note is.
enum Stage {
  draft = 1;
  /// Seen by everyone.
  published = 2;
}

/// A person.
node Author = 1 {
  email: string = 1 [required, unique];
  born: timestamp = 2;
}

/// A note, with "quotes" and \\ in its doc.
node Note = 2 {
  author: ref<Author> = 1 [required];
  title: string = 2 [required, index];
  stage: Stage = 3 [required, default = draft];
  words: int = 4;
  tags: list<string> = 5;
  extra: json = 6;
  from: string = 7;

  unique (author, title);
}

edge Likes = 100 from Author to Note {
  weight: float = 1;
}
`;

function compile(text: string): Schema {
  const result = compileSchema({ path: "schema.entdb", text });
  if (!result.schema) throw new Error("the test schema does not compile");
  return result.schema;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeRepoTempDir(dir);
});

describe("the Python generator", () => {
  it("prints the package of a schema as the golden files hold it", () => {
    const files = generatePython(compile(SCHEMA));
    expect(files.map((f) => f.path)).toEqual(["acme_notes/__init__.py", "acme_notes/_proto.py"]);
    expectMatchesFile("python/acme_notes/__init__.py", files[0]!.content);
    const proto = files[1]!.content;
    expect(proto).toContain(
      'MESSAGES: dict[str, type[Message]] = {name: message_class(name) for name in ["Author", "Note", "Likes"]}',
    );
  });

  it("refuses names that clash in Python, listing every clash", () => {
    const schema = compile(`package acme.clash;
node Task = 1 { title: string = 1; }
node TaskCreate = 2 { title: string = 1; }
node Plan = 3 { version: int = 1; }
node Rt = 4 { name: string = 1; }
`);
    let error: unknown;
    try {
      generatePython(schema);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodegenError);
    expect((error as CodegenError).code).toBe("name-collision");
    expect((error as CodegenError).message).toBe(
      "The Python client cannot be generated: 5 name clashes; rename one side (names are labels, ids stay).",
    );
    expect((error as CodegenError).details).toEqual([
      "'TaskCreate' is generated for node 'Task' and for node 'TaskCreate'",
      "'Plan' is generated for the client module and for node 'Plan'",
      "field 'Plan.version' clashes with the built-in attribute 'version'",
      "type 'Rt' would define '_rt', which the module imports under that name",
      "type 'Plan' would be 'db.plan', which the client already has for atomic plans; rename the type (for example to 'PlanItem')",
    ]);
  });

  it("refuses inverse names that shadow accessor methods and types named like the client's reads", () => {
    const schema = compile(`package acme.clash;
node Search = 1 { title: string = 1; }
node NodeTypes = 2 { title: string = 1; }
edge Finds = 100 from Search to NodeTypes [inverse = query_all];
edge Keys = 101 from NodeTypes to Search [inverse = get_by_title];
`);
    let error: unknown;
    try {
      generatePython(schema);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodegenError);
    expect((error as CodegenError).details).toEqual([
      "'_NODE_TYPES' is generated for the client module and for node 'NodeTypes'",
      "type 'Search' would be 'db.search', which the client already has for search across types; rename the type (for example to 'SearchItem')",
      "edge 'Finds' has inverse name 'query_all', which would shadow 'db.node_types.query_all'",
      "edge 'Keys' has inverse name 'get_by_title', which would shadow 'db.search.get_by_title'",
    ]);
  });

  it("reserves db.mailbox and db.search, and keeps where each refused type is declared", () => {
    const source = `package acme.clash;
node Mailbox = 1 { title: string = 1; }
node Search = 2 { title: string = 1; }
`;
    let error: unknown;
    try {
      generatePython(compile(source));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodegenError);
    const { details, spans } = error as CodegenError;
    expect(details).toEqual([
      "type 'Mailbox' would be 'db.mailbox', which the client already has for the caller's mailbox; rename the type (for example to 'MailboxItem')",
      "type 'Search' would be 'db.search', which the client already has for search across types; rename the type (for example to 'SearchItem')",
    ]);
    expect(spans.map((span) => span && source.slice(span.start, span.start + 12))).toEqual([
      "node Mailbox",
      "node Search ",
    ]);
  });

  it("keeps the runtime's embedded API descriptors in step with the API protos", () => {
    const path = join(REPO_ROOT, API_DESCRIPTOR_PATH);
    const expected = apiDescriptorModule(headerText("server/api/proto/entdb/v1"));
    if (process.env["UPDATE_EXPECT"] === "1") writeFileSync(path, expected);
    expect(readFileSync(path, "utf8")).toBe(expected);
  });
});

describe("entdb generate --python", () => {
  function project(config?: object): string {
    const dir = makeRepoTempDir("generate-python");
    dirs.push(dir);
    writeFileSync(join(dir, "schema.entdb"), SCHEMA);
    if (config !== undefined) writeFileSync(join(dir, "entdb.config.json"), JSON.stringify(config));
    return dir;
  }

  it("writes the package beside the TypeScript output, and --check sees it", async () => {
    const dir = project();
    const result = await runGenerate(undefined, { check: false, cwd: dir, python: "py" });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(
      "wrote 'py' from 'schema.entdb': 2 added, 0 changed, 0 removed, 0 unchanged\n  added   acme_notes/__init__.py\n  added   acme_notes/_proto.py\n",
    );
    const init = readFileSync(join(dir, "py", "acme_notes", "__init__.py"), "utf8");
    expect(init.split("\n", 1)[0]).toMatch(
      /^# @generated by entdb \S+ from schema\.entdb — DO NOT EDIT$/,
    );
    writeFileSync(join(dir, "py", "acme_notes", "_proto.py"), "# edited\n");
    const check = await runGenerate(undefined, { check: true, cwd: dir, python: "py" });
    expect(check.exitCode).toBe(1);
    expect(check.stderr).toContain("  differs py/acme_notes/_proto.py\n");
  });

  it("takes the out dir from 'python' in entdb.config.json", async () => {
    const dir = project({ python: "clients/python" });
    const result = await runGenerate(undefined, { check: false, cwd: dir });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("wrote 'clients/python' from 'schema.entdb': 2 added");
    const none = project();
    const plain = await runGenerate(undefined, { check: false, cwd: none });
    expect(plain.stdout).not.toContain("acme_notes");
  });
});
