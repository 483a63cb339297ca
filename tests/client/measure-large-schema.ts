/**
 * Measures the TypeScript client generator on a large synthetic schema (500 node and
 * edge types, 10,000 fields): generation time, output size, and `tsc --noEmit` time on
 * the output. Prints the numbers; asserts nothing about time. Run it with
 * `node tests/client/measure-large-schema.ts`.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateClient } from "../../codegen/client/index.ts";
import type { Field, FieldType, Schema } from "../../schema/model.ts";

const repoRoot = join(import.meta.dirname, "../..");

/** 400 node types and 100 edge types, 20 fields each, cycling through every kind. */
export function largeSchema(): Schema {
  const kinds: FieldType[] = [
    { kind: "string" },
    { kind: "int" },
    { kind: "float" },
    { kind: "bool" },
    { kind: "timestamp" },
    { kind: "bytes" },
    { kind: "json" },
    { kind: "enum", enumName: "Level" },
    { kind: "ref", targetId: 1 },
    { kind: "list", element: { kind: "string" } },
    { kind: "list", element: { kind: "ref", targetId: 2 } },
  ];
  const fields = (count: number, typeId: number): Field[] =>
    Array.from({ length: count }, (_, i) => ({
      id: i + 1,
      name: `field_${i + 1}`,
      type: kinds[(i + typeId) % kinds.length] ?? { kind: "string" },
      required: i % 3 === 0,
      unique: i === 0,
      index: i % 4 === 0,
      searchable: false,
      deprecated: false,
      doc: `Field ${i + 1} of type ${typeId}.`,
    }));
  return {
    package: "bench.large",
    enums: [
      {
        name: "Level",
        values: [1, 2, 3].map((n) => ({ number: n, name: `level_${n}`, deprecated: false })),
        reservedNumbers: [],
        reservedNames: [],
      },
    ],
    nodes: Array.from({ length: 400 }, (_, i) => ({
      id: i + 1,
      name: `Thing${i + 1}`,
      fields: fields(20, i + 1),
      uniques: [],
      indexes: [],
      visibility: "tenant" as const,
      deprecated: false,
      reservedIds: [],
      reservedNames: [],
      doc: `Thing number ${i + 1}.`,
    })),
    edges: Array.from({ length: 100 }, (_, i) => ({
      id: 1000 + i,
      name: `Link${i + 1}`,
      fromId: i + 1,
      toId: i + 2,
      uniquePerFrom: false,
      inverseName: `back_links_${i + 1}`,
      fields: fields(20, 1000 + i),
      deprecated: false,
      reservedIds: [],
      reservedNames: [],
    })),
    reservedIds: [],
    reservedNames: [],
  };
}

if (import.meta.main) {
  const schema = largeSchema();
  const fieldCount = [...schema.nodes, ...schema.edges].reduce((n, t) => n + t.fields.length, 0);
  const started = performance.now();
  const { content } = generateClient(schema, { runtimeImport: "../runtime/v1.ts" });
  const generateMs = performance.now() - started;
  const dir = mkdtempSync(join(repoRoot, ".tmp-client-"));
  try {
    writeFileSync(join(dir, "client.ts"), content);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: "../tsconfig.json",
        include: ["client.ts"],
      }),
    );
    // `--extendedDiagnostics` splits tsc's time into parse, bind and check; the wall
    // time includes loading the runtime and the standard library (a fixed cost).
    const tscStarted = performance.now();
    let output = "";
    let failed = false;
    try {
      output = execFileSync(
        join(repoRoot, "node_modules/.bin/tsc"),
        ["--noEmit", "--extendedDiagnostics", "-p", join(dir, "tsconfig.json")],
        { encoding: "utf8" },
      );
    } catch (err) {
      failed = true;
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    const tscMs = performance.now() - tscStarted;
    const seconds = (label: string): number | undefined => {
      const match = new RegExp(`^${label}:\\s+([0-9.]+)s$`, "m").exec(output);
      return match?.[1] === undefined ? undefined : Number(match[1]);
    };
    console.log(
      JSON.stringify(
        {
          types: schema.nodes.length + schema.edges.length,
          fields: fieldCount,
          generateMs: Math.round(generateMs),
          bytes: Buffer.byteLength(content),
          lines: content.split("\n").length,
          tscNoEmitMs: Math.round(tscMs),
          tscParseSeconds: seconds("Parse time"),
          tscBindSeconds: seconds("Bind time"),
          tscCheckSeconds: seconds("Check time"),
          tscOk: !failed,
        },
        null,
        2,
      ),
    );
    if (failed) console.log(output.split("\n").slice(0, 20).join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
