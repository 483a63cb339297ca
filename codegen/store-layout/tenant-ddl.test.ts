import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../schema/index.ts";
import { compileSchema } from "../../schema/index.ts";
import { printSqlFile } from "../sql/index.ts";
import { nodeFieldExpr, parseObjectName } from "./sql-names.ts";
import { BASE_TABLE_DDL, buildTenantDdl, schemaObjects } from "./tenant-ddl.ts";

const SMALL = `package test.ddl;

node Account = 1 {
  email: string = 1 [required, unique];
  score: int = 2 [index];
  name: string = 3 [searchable];
  org: string = 4;
  num: int = 5;

  unique (org, num);
  index (num, score);
}

node Note = 2 {
  text: string = 1;
}

edge Follows = 10 from Account to Account {
  since: timestamp = 1 [index];
  weight: int = 2;
}
`;

function compile(text: string): Schema {
  const result = compileSchema({ path: "small.entdb", text });
  if (!result.schema) throw new Error(JSON.stringify(result.diagnostics));
  return result.schema;
}

const small = compile(SMALL);

const SCHEMA_DDL = [
  `CREATE UNIQUE INDEX ux_n1_f1 ON nodes(json_extract(payload, '$."1"')) WHERE type_id = 1`,
  `CREATE UNIQUE INDEX ux_n1_f4_f5 ON nodes(json_extract(payload, '$."4"'), json_extract(payload, '$."5"')) WHERE type_id = 1`,
  `CREATE INDEX ix_n1_f2 ON nodes(json_extract(payload, '$."2"'), id) WHERE type_id = 1`,
  `CREATE INDEX ix_n1_f5_f2 ON nodes(json_extract(payload, '$."5"'), json_extract(payload, '$."2"'), id) WHERE type_id = 1`,
  `CREATE VIRTUAL TABLE fts_n1 USING fts5(f3, tokenize = 'unicode61 remove_diacritics 2')`,
  `CREATE INDEX ix_e10_f1 ON edges(json_extract(props, '$."1"')) WHERE edge_type_id = 10`,
];

function freshDb(schema: Schema): Database.Database {
  const db = new Database(":memory:");
  for (const stmt of buildTenantDdl(schema)) db.exec(stmt);
  return db;
}

function insertNode(db: Database.Database, id: string, typeId: number, payload: string): void {
  db.prepare(
    "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, 'a', 0, 0)",
  ).run(id, typeId, payload);
}

describe("buildTenantDdl", () => {
  it("emits the fixed tables, then the schema's objects, keyed by ids only", () => {
    expect(buildTenantDdl(small)).toEqual([...BASE_TABLE_DDL, ...SCHEMA_DDL]);
  });

  it("mentions no type or field name", () => {
    const text = buildTenantDdl(small).join("\n");
    for (const name of ["Account", "email", "score", "name", "org", "num", "Follows", "since"]) {
      expect(text).not.toMatch(new RegExp(`\\b${name}\\b`));
    }
  });

  it("is the same for the same schema whatever the order of types in the model", () => {
    const shuffled: Schema = {
      ...small,
      nodes: [...small.nodes].reverse(),
      edges: [...small.edges].reverse(),
    };
    expect(buildTenantDdl(shuffled)).toEqual(buildTenantDdl(small));
  });

  it("runs on an empty SQLite database and SQLite keeps each statement as written", () => {
    const db = freshDb(small);
    const kept = db
      .prepare(
        "SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_%' OR name LIKE 'ux_%' OR name = 'fts_n1'",
      )
      .all() as {
      name: string;
      sql: string;
    }[];
    const byName = new Map(kept.map((r) => [r.name, r.sql]));
    for (const o of schemaObjects(small)) expect(byName.get(o.name)).toBe(o.sql);
  });

  it("enforces unique fields per type, allowing several unset values", () => {
    const db = freshDb(small);
    insertNode(db, "a", 1, `{"1":"ada@example.com"}`);
    insertNode(db, "b", 2, `{"1":"ada@example.com"}`); // another type: no clash
    insertNode(db, "c", 1, `{}`);
    insertNode(db, "d", 1, `{}`); // two unset emails: NULLs do not clash
    expect(() => insertNode(db, "e", 1, `{"1":"ada@example.com"}`)).toThrow(
      "UNIQUE constraint failed: index 'ux_n1_f1'",
    );
  });

  it("enforces composite uniques only when every field is set", () => {
    const db = freshDb(small);
    insertNode(db, "a", 1, `{"1":"a","4":"acme","5":1}`);
    insertNode(db, "b", 1, `{"1":"b","4":"acme","5":2}`);
    insertNode(db, "c", 1, `{"1":"c","4":"acme"}`);
    insertNode(db, "d", 1, `{"1":"d","4":"acme"}`);
    expect(() => insertNode(db, "e", 1, `{"1":"e","4":"acme","5":1}`)).toThrow(
      "UNIQUE constraint failed: index 'ux_n1_f4_f5'",
    );
  });

  it("treats 64-bit integers in unique keys exactly", () => {
    const db = freshDb(small);
    insertNode(db, "a", 1, `{"1":"a","4":"o","5":9223372036854775807}`);
    insertNode(db, "b", 1, `{"1":"b","4":"o","5":9223372036854775806}`);
    expect(() => insertNode(db, "c", 1, `{"1":"c","4":"o","5":9223372036854775807}`)).toThrow(
      "ux_n1_f4_f5",
    );
  });

  it("lets SQLite answer a filtered, ordered query from the partial expression index", () => {
    const db = freshDb(small);
    // Half the nodes of another type, so that type_id alone is not selective.
    for (let i = 0; i < 2000; i++) insertNode(db, `n${i}`, 1 + (i % 2), `{"1":"e${i}","2":${i}}`);
    db.exec("ANALYZE");
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT id FROM nodes WHERE type_id = 1 AND ${nodeFieldExpr(2)} > ? ORDER BY ${nodeFieldExpr(2)}, id LIMIT 10`,
      )
      .all(5) as { detail: string }[];
    expect(plan.map((p) => p.detail)).toEqual(["SEARCH nodes USING INDEX ix_n1_f2 (<expr>>?)"]);
  });
});

describe("parseObjectName", () => {
  it("reads back every name the generator makes", () => {
    expect(schemaObjects(small).map((o) => [o.name, parseObjectName(o.name)])).toEqual([
      ["ux_n1_f1", { kind: "unique", typeId: 1, fieldIds: [1] }],
      ["ux_n1_f4_f5", { kind: "unique", typeId: 1, fieldIds: [4, 5] }],
      ["ix_n1_f2", { kind: "index", typeId: 1, fieldIds: [2] }],
      ["ix_n1_f5_f2", { kind: "index", typeId: 1, fieldIds: [5, 2] }],
      ["fts_n1", { kind: "fts", typeId: 1, fieldIds: [] }],
      ["ix_e10_f1", { kind: "edge-index", typeId: 10, fieldIds: [1] }],
    ]);
  });

  it("ignores names that are not the generator's", () => {
    for (const name of [
      "nodes",
      "nodes_by_type",
      "fts_n1_data",
      "ux_e1_f1",
      "ix_n0_f1",
      "ix_n1",
      "sqlite_autoindex_nodes_1",
    ]) {
      expect(parseObjectName(name)).toBeUndefined();
    }
  });
});

describe("printSqlFile", () => {
  it("prints the statements with comments naming types and fields", () => {
    expect(printSqlFile(small)).toBe(
      [
        "-- Tenant database layout for package test.ddl.",
        "-- Storage is keyed by ids: payloads are JSON objects keyed by field id, and every",
        "-- index below reads those keys with json_extract. Renaming a type or field changes",
        "-- nothing here; changing an id is a different field.",
        "",
        "-- Tables every tenant database has.",
        ...BASE_TABLE_DDL.map((s) => `${s};`),
        "",
        "-- Node Account (type 1)",
        "-- unique field email (1); NULLs do not conflict",
        `${SCHEMA_DDL[0]};`,
        "-- unique org (4), num (5); NULLs do not conflict",
        `${SCHEMA_DDL[1]};`,
        "-- indexed field score (2), then id for paging",
        `${SCHEMA_DDL[2]};`,
        "-- index num (5), score (2), then id for paging",
        `${SCHEMA_DDL[3]};`,
        "-- full-text search over name (3); rowid is nodes.seq",
        `${SCHEMA_DDL[4]};`,
        "",
        "-- Edge Follows (edge type 10)",
        "-- indexed property since (1)",
        `${SCHEMA_DDL[5]};`,
        "",
      ].join("\n"),
    );
  });

  it("says so when a schema declares no indexes", () => {
    const text = printSqlFile(compile("package p;\nnode A = 1 {\n  x: string = 1;\n}\n"));
    expect(
      text.endsWith("\n-- The schema declares no indexes, unique fields or searchable fields.\n"),
    ).toBe(true);
  });
});

describe("docs/architecture.md", () => {
  it("shows the DDL the generator really emits", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../docs/architecture.md"), "utf8");
    const block = /```sql\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    const schema = compile(
      "package p;\nnode Account = 1 {\n  email: string = 1 [unique];\n  score: int = 2 [index];\n}\n",
    );
    expect(block.trim().split("\n")).toEqual(schemaObjects(schema).map((o) => o.sql));
  });
});
