import { describe, expect, it } from "vitest";
import { compileSchema } from "./compile.ts";
import { schemaFingerprint } from "./fingerprint.ts";
import { formatSchema } from "./format.ts";
import { lockFromSchema, modelFromLock } from "./lock.ts";
import type { Schema } from "./model.ts";
import { parseSchema } from "./parser.ts";

const SOURCE = `package acme.search;

node Ticket = 1 {
  title: string = 1 [required, searchable( weight=3 )];
  body: string = 2 [searchable(weight = 0.5)];
  tags: string = 3 [searchable()];
  notes: string = 4 [searchable];
}
`;

function compile(text: string): Schema {
  const result = compileSchema({ path: "s.entdb", text });
  if (!result.schema) throw new Error(JSON.stringify(result.diagnostics));
  return result.schema;
}

describe("searchable(weight = w)", () => {
  it("puts the weight in the model, leaving the default 1 out", () => {
    const fields = compile(SOURCE).nodes[0]!.fields;
    expect(fields.map((f) => [f.name, f.searchable, f.searchWeight])).toEqual([
      ["title", true, 3],
      ["body", true, 0.5],
      ["tags", true, undefined],
      ["notes", true, undefined],
    ]);
  });

  it("formats as name(arg = value)", () => {
    const source = { path: "s.entdb", text: SOURCE };
    expect(formatSchema(parseSchema(source).ast, source)).toContain(
      "title: string = 1 [required, searchable(weight = 3)];\n  body: string = 2 [searchable(weight = 0.5)];\n  tags: string = 3 [searchable()];",
    );
  });

  it("round-trips through the lock file, and a schema without weights keeps its fingerprint", () => {
    const schema = compile(SOURCE);
    const back = modelFromLock(lockFromSchema(schema), "lock");
    expect(back.nodes[0]!.fields.map((f) => f.searchWeight)).toEqual([
      3,
      0.5,
      undefined,
      undefined,
    ]);
    expect(schemaFingerprint(back)).toBe(schemaFingerprint(schema));
    const plain = compile(SOURCE.replace("( weight=3 )", "").replace("(weight = 0.5)", ""));
    const explicitOne = compile(SOURCE.replace("weight=3", "weight = 1").replace("0.5", "1"));
    expect(schemaFingerprint(explicitOne)).toBe(schemaFingerprint(plain));
    expect(lockFromSchema(plain)).not.toContain("searchWeight");
  });

  it("refuses a weight of 1 in a hand-edited lock (the default is written by leaving it out)", () => {
    const lock = lockFromSchema(compile(SOURCE)).replace('"searchWeight": 3', '"searchWeight": 1');
    expect(() => modelFromLock(lock, "lock")).toThrow("searchWeight");
  });
});
