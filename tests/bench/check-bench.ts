/**
 * How long `entdb check` takes on a large schema: a generated pair of 500 types
 * (400 node types, 100 edge types) with 20 fields each, 10,000 fields in all, where
 * the new version renames, retypes, retires and adds a few things. Measures, in
 * process, compiling the old and the new source and comparing the models (median and
 * best of several runs); the same with the old side read from its lock file instead
 * ("read lock old" is that read alone, "total vs lock" adds compiling new and the
 * check); then one full `entdb check new --against old` child process, which adds
 * Node's start-up and module loading.
 *
 * Run: `node tests/bench/check-bench.ts [runs]` (default 9 runs). Target: parse and
 * check under 300 ms.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkCompat } from "../../schema/compat/index.ts";
import { compileSchema } from "../../schema/compile.ts";
import { lockFromSchema, modelFromLock } from "../../schema/lock.ts";
import type { Schema } from "../../schema/model.ts";

const NODE_TYPES = 400;
const EDGE_TYPES = 100;
const FIELDS_PER_TYPE = 20;
const ENUMS = 10;

const KINDS = ["string", "int", "float", "bool", "timestamp", "bytes", "json"] as const;

/** The generated old and new schema sources. */
export interface SchemaPair {
  readonly old: string;
  readonly new: string;
}

/** Generates the pair; `changed` applies the new version's edits. */
export function generateSchemaPair(): SchemaPair {
  return { old: generate(false), new: generate(true) };
}

function generate(changed: boolean): string {
  const out: string[] = ["package bench.big;", ""];
  for (let e = 1; e <= ENUMS; e++) {
    out.push(`enum Enum${e} {`);
    for (let v = 1; v <= 8; v++) out.push(`  value_${e}_${v} = ${v};`);
    if (changed && e === 1) out.push("  value_1_9 = 9;");
    out.push("}", "");
  }
  for (let n = 1; n <= NODE_TYPES; n++) {
    out.push(`/// Node type number ${n}.`, `node Node${n} = ${n} {`);
    for (let f = 1; f <= FIELDS_PER_TYPE; f++) {
      if (changed && n === 7 && f === 20) continue; // retired below
      out.push(`  ${field(n, f, changed)}`);
    }
    if (changed && n === 7) out.push("  reserved 20;");
    if (changed && n === 9) out.push("  extra: string = 21;");
    out.push("", `  index (f${n}_1, f${n}_2);`, "}", "");
  }
  if (changed)
    out.push(`node Added = ${NODE_TYPES + EDGE_TYPES + 1} {`, "  name: string = 1;", "}", "");
  for (let e = 1; e <= EDGE_TYPES; e++) {
    const id = NODE_TYPES + e;
    const from = e;
    const to = (e % NODE_TYPES) + 1;
    out.push(`edge Edge${e} = ${id} from Node${from} to Node${to} {`);
    for (let f = 1; f <= FIELDS_PER_TYPE; f++) out.push(`  ${field(id, f, changed)}`);
    out.push("}", "");
  }
  return out.join("\n");
}

function field(owner: number, f: number, changed: boolean): string {
  const name = changed && owner === 3 && f === 4 ? `renamed_${owner}_${f}` : `f${owner}_${f}`;
  let type: string;
  if (f === 19) type = `Enum${(owner % ENUMS) + 1}`;
  else if (f === 18 && owner <= NODE_TYPES) type = `ref<Node${(owner % NODE_TYPES) + 1}>`;
  else if (f === 17) type = "list<string>";
  else if (f === 1) type = "int";
  else if (f === 2) type = "string";
  else type = KINDS[f % KINDS.length]!;
  if (changed && owner === 5 && f === 3) type = "string"; // a kind change (was bool)
  const options = f === 1 ? " [index]" : f === 2 && owner <= NODE_TYPES ? " [searchable]" : "";
  return `${name}: ${type} = ${f}${options};`;
}

function compile(text: string, path: string): Schema {
  const { schema, diagnostics } = compileSchema({ path, text });
  if (schema === undefined) {
    throw new Error(`generated schema does not compile: ${diagnostics[0]?.message ?? "?"}`);
  }
  return schema;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 9);
  const pair = generateSchemaPair();
  const lockText = lockFromSchema(compile(pair.old, "old.entdb"));
  const times = {
    compileOld: [] as number[],
    compileNew: [] as number[],
    check: [] as number[],
    total: [] as number[],
    readLock: [] as number[],
    totalVsLock: [] as number[],
  };
  let findings = 0;
  let breaking = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const oldSchema = compile(pair.old, "old.entdb");
    const t1 = performance.now();
    const newSchema = compile(pair.new, "new.entdb");
    const t2 = performance.now();
    const result = checkCompat(oldSchema, newSchema);
    const t3 = performance.now();
    times.compileOld.push(t1 - t0);
    times.compileNew.push(t2 - t1);
    times.check.push(t3 - t2);
    times.total.push(t3 - t0);
    const t4 = performance.now();
    const locked = modelFromLock(lockText, "old.lock.json");
    const t5 = performance.now();
    checkCompat(locked, newSchema);
    const t6 = performance.now();
    times.readLock.push(t5 - t4);
    times.totalVsLock.push(t5 - t4 + (t2 - t1) + (t6 - t5));
    findings = result.length;
    breaking = result.filter((f) => f.category === "breaking").length;
  }

  const dir = mkdtempSync(join(tmpdir(), "entdb-check-bench-"));
  let cliMs: number;
  let cliStatus: number | null;
  try {
    writeFileSync(join(dir, "old.entdb"), pair.old);
    writeFileSync(join(dir, "new.entdb"), pair.new);
    const entdb = fileURLToPath(new URL("../../bin/entdb.ts", import.meta.url));
    const start = performance.now();
    const child = spawnSync(
      process.execPath,
      [entdb, "check", "new.entdb", "--against", "old.entdb"],
      {
        cwd: dir,
        encoding: "utf8",
      },
    );
    cliMs = performance.now() - start;
    cliStatus = child.status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const kb = (s: string): string => `${Math.round(Buffer.byteLength(s) / 1024)} KiB`;
  console.log(
    `schema pair: ${NODE_TYPES} node + ${EDGE_TYPES} edge types, ${(NODE_TYPES + EDGE_TYPES) * FIELDS_PER_TYPE} fields; ` +
      `old ${kb(pair.old)}, new ${kb(pair.new)}; ${findings} findings (${breaking} breaking); ${runs} runs`,
  );
  const row = (label: string, values: readonly number[]): string =>
    `${label.padEnd(14)} ${median(values).toFixed(1).padStart(9)} ${Math.min(...values)
      .toFixed(1)
      .padStart(9)}`;
  console.log(`${"step".padEnd(14)} ${"median ms".padStart(9)} ${"best ms".padStart(9)}`);
  console.log(row("compile old", times.compileOld));
  console.log(row("compile new", times.compileNew));
  console.log(row("check", times.check));
  console.log(row("total", times.total));
  console.log(row("read lock old", times.readLock));
  console.log(row("total vs lock", times.totalVsLock));
  console.log(
    `full CLI run (node bin/entdb.ts check): ${cliMs.toFixed(0)} ms wall, exit ${cliStatus}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
