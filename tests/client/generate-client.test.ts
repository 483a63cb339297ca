import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { accessorName, generateClient, propertyName } from "../../codegen/client/index.ts";
import { CodegenError } from "../../codegen/codegen-error.ts";
import type { Schema } from "../../schema/model.ts";
import { smallSchema } from "./small-schema.ts";
import { trackerSchema } from "./tracker-schema.ts";

const here = import.meta.dirname;

/** Compares with the expected file, or rewrites it when UPDATE_EXPECT=1. */
function expectFile(name: string, actual: string): void {
  const path = join(here, "expected", name);
  if (process.env["UPDATE_EXPECT"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

/** The `any` keywords in a TypeScript text, found by walking its syntax tree. */
function anyKeywords(text: string): string[] {
  const file = ts.createSourceFile("client.ts", text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) {
      const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
      found.push(`${line}: ${node.parent.getText(file)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("generateClient", () => {
  it("prints the small schema exactly as expected", () => {
    const out = generateClient(smallSchema);
    expect(out.path).toBe("client.ts");
    expectFile("small/client.ts.expected", out.content);
  });

  it("prints the tracker example exactly as expected", () => {
    expectFile("tracker/client.ts.expected", generateClient(trackerSchema()).content);
  });

  it("offers search only on the accessors of types with searchable fields", () => {
    const tracker = generateClient(trackerSchema()).content;
    expect(tracker).toContain(
      "readonly comment: entdb.NodeAccessor<Comment, CommentCreate, CommentPatch, CommentWhere, CommentOrderBy> & entdb.SearchableAccessor<Comment, CommentWhere, CommentOrderBy>;",
    );
    // The small schema has no searchable field: no accessor of it gets `search`.
    expect(generateClient(smallSchema).content).not.toContain("SearchableAccessor");
  });

  it("is deterministic", () => {
    const schema = trackerSchema();
    expect(generateClient(schema).content).toBe(generateClient(schema).content);
  });

  it("imports the runtime from the given module", () => {
    const { content } = generateClient(smallSchema, { runtimeImport: "../runtime/v1.ts" });
    expect(content).toContain('import * as entdb from "../runtime/v1.ts";');
    expect(generateClient(smallSchema).content).toContain(
      'import * as entdb from "entdb/runtime/v1";',
    );
  });

  it("has no `any` type anywhere in the output", () => {
    expect(anyKeywords(generateClient(smallSchema).content)).toEqual([]);
    expect(anyKeywords(generateClient(trackerSchema()).content)).toEqual([]);
    // The walker does find one (the check is not vacuous).
    expect(anyKeywords("export type X = { a: any };")).toEqual(["1: a: any"]);
  });
});

describe("client names", () => {
  it("lower-camel-cases type names, lowering a leading acronym as a word", () => {
    expect(
      ["AssignedTo", "Task", "URL", "URLLink", "HTTPServer", "ABC2", "X"].map(accessorName),
    ).toEqual(["assignedTo", "task", "url", "urlLink", "httpServer", "abc2", "x"]);
  });

  it("spells field names like protobuf JSON names", () => {
    expect(["display_name", "email", "a_b_c", "x2_y", "already_camel"].map(propertyName)).toEqual([
      "displayName",
      "email",
      "aBC",
      "x2Y",
      "alreadyCamel",
    ]);
  });

  function clash(schema: Schema): readonly string[] {
    try {
      generateClient(schema);
    } catch (err) {
      expect(err).toBeInstanceOf(CodegenError);
      if (err instanceof CodegenError) {
        expect(err.code).toBe("name-collision");
        return err.details;
      }
    }
    throw new Error("expected a name collision");
  }

  const person = smallSchema.nodes[0]!;
  const knows = smallSchema.edges[0]!;

  it("refuses type names that clash with derived names", () => {
    const schema: Schema = {
      ...smallSchema,
      nodes: [
        ...smallSchema.nodes,
        { ...person, id: 4, name: "PersonCreate", fields: [] },
        { ...person, id: 5, name: "Date", fields: [] },
        { ...person, id: 6, name: "SearchableNodeTypes", fields: [] },
      ],
      edges: [{ ...knows, name: "Client" }],
    };
    expect(clash(schema)).toEqual([
      "The TypeScript type 'PersonCreate' would be generated for both node type 'Person' and node type 'PersonCreate'; rename one of them.",
      "The TypeScript type 'Date' would be generated for both the built-in type 'Date' and node type 'Date'; rename one of them.",
      "The TypeScript type 'SearchableNodeTypes' would be generated for both the interface of searchable node types and node type 'SearchableNodeTypes'; rename one of them.",
      "The TypeScript type 'Client' would be generated for both the client interface and edge type 'Client'; rename one of them.",
    ]);
  });

  it("refuses fields that clash with built-in properties or with each other", () => {
    const fields = [
      { ...person.fields[0]!, id: 20, name: "created_at" },
      { ...person.fields[0]!, id: 21, name: "foo_bar" },
      { ...person.fields[0]!, id: 22, name: "fooBar" },
    ];
    const schema: Schema = {
      ...smallSchema,
      nodes: [{ ...person, fields: [...person.fields, ...fields] }, ...smallSchema.nodes.slice(1)],
      edges: [
        { ...knows, fields: [{ ...person.fields[0]!, name: "from" }] },
        ...smallSchema.edges.slice(1),
      ],
    };
    expect(clash(schema)).toEqual([
      "Field 'Person.created_at' would be the property 'createdAt', which every Person already has; rename the field.",
      "Fields 'Person.foo_bar' and 'Person.fooBar' would both be the property 'fooBar'; rename one of them.",
      "Field 'Knows.from' would be the property 'from', which every Knows already has; rename the field.",
    ]);
  });

  it("refuses accessor and inverse names the client uses itself", () => {
    const schema: Schema = {
      ...smallSchema,
      nodes: [...smallSchema.nodes, { ...person, id: 4, name: "Atomic", fields: [] }],
      edges: [
        { ...knows, inverseName: "get_many" },
        { ...knows, id: 12, name: "Likes", inverseName: "fans" },
        { ...knows, id: 13, name: "Adores", inverseName: "fans" },
      ],
    };
    expect(clash(schema)).toEqual([
      "Node type 'Atomic' would get the client accessor 'db.atomic', which the client uses itself for atomic plans; rename the type (for example to 'AtomicItem'): a rename is safe because ids, not names, are identity.",
      "The inverse name 'get_many' of edge type 'Knows' would be 'db.person.getMany', which node accessors use themselves; pick another inverse name.",
      "Edge types 'Likes' and 'Adores' would both add 'db.person.fans'; rename one inverse name.",
    ]);
  });

  it("reserves every accessor name the client has: search, mailbox, core, atomic, then", () => {
    const names = ["Search", "Mailbox", "Core", "Then"];
    const schema: Schema = {
      ...smallSchema,
      nodes: [
        ...smallSchema.nodes,
        ...names.map((name, i) => ({ ...person, id: 10 + i, name, fields: [] })),
      ],
      edges: [
        { ...knows, inverseName: "watch" },
        { ...knows, id: 12, name: "Finds", inverseName: "search" },
      ],
    };
    expect(clash(schema)).toEqual([
      "Node type 'Search' would get the client accessor 'db.search', which the client uses itself for search across types; rename the type (for example to 'SearchItem'): a rename is safe because ids, not names, are identity.",
      "Node type 'Mailbox' would get the client accessor 'db.mailbox', which the client uses itself for the caller's mailbox; rename the type (for example to 'MailboxItem'): a rename is safe because ids, not names, are identity.",
      "Node type 'Core' would get the client accessor 'db.core', which the client uses itself for the untyped client underneath; rename the type (for example to 'CoreItem'): a rename is safe because ids, not names, are identity.",
      "Node type 'Then' would get the client accessor 'db.then', which the client uses itself for what `await` looks for; rename the type (for example to 'ThenItem'): a rename is safe because ids, not names, are identity.",
      "The inverse name 'watch' of edge type 'Knows' would be 'db.person.watch', which node accessors use themselves; pick another inverse name.",
      "The inverse name 'search' of edge type 'Finds' would be 'db.person.search', which node accessors use themselves; pick another inverse name.",
    ]);
  });
});
