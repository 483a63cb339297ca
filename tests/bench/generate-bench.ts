/**
 * How long `entdb generate` takes on a large schema (500 types: 400 node types and 100
 * edge types, 20 fields each, 10,000 fields in all; the old side of the check benchmark's
 * pair), and how big and how costly to type-check its output is.
 *
 * The machine it runs on may be shared, so every timing is reported as wall time and as
 * CPU time (user + sys), each the median of several runs (`--runs N`, default 3):
 * - each generate step in-process (schema compile, descriptor with its `.proto` text,
 *   protobuf-es, client, SQL, lock file), each step on a fresh process so no step warms
 *   the next one's code;
 * - the real command into a temp dir under the repo's `.tmp/` (so the output resolves
 *   `entdb/runtime/v1` and `@bufbuild/protobuf` as checked-in output does): the first
 *   generate (nothing in the out dir), a second one (all unchanged) and `--check`, then
 *   one with the out dir removed (as after a fresh checkout) and one after one type's doc
 *   comment changed (the command keeps Node's compile cache in the OS temp dir, so after
 *   the first of all runs it starts warm, as it does on a developer's machine);
 * - `tsc --noEmit` over the output;
 * then the size of each output file (the per-type `.proto` and protobuf-es files summed by
 * kind).
 *
 * Run: `node tests/bench/generate-bench.ts [--runs N]`.
 */

import { spawnSync } from "node:child_process";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { generateClient } from "../../codegen/client/index.ts";
import { buildFileDescriptors, buildProtoFiles } from "../../codegen/proto/build-descriptor.ts";
import { generateEs } from "../../codegen/proto/generate-es.ts";
import { printSqlFile } from "../../codegen/sql/index.ts";
import { compileSchema } from "../../schema/compile.ts";
import { schemaFingerprint } from "../../schema/fingerprint.ts";
import { lockFromSchema } from "../../schema/lock.ts";
import { makeRepoTempDir, REPO_ROOT, removeRepoTempDir } from "../codegen/repo-temp-dir.ts";
import { generateSchemaPair } from "./check-bench.ts";

const BIN = join(REPO_ROOT, "bin", "entdb.ts");
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
const SELF = import.meta.filename;

/** The in-process generate steps, each timed alone in a child process. */
const STEPS = [
  "schema compile",
  "descriptor + .proto text",
  "protobuf-es",
  "client",
  "sql",
  "lock",
] as const;
type Step = (typeof STEPS)[number];

/** One measurement: wall and CPU (user + sys) milliseconds. */
interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

/**
 * Runs `node args` in `cwd` under `/usr/bin/time` (for the child's CPU time); fails
 * loudly on an unexpected exit code.
 */
function timed(
  args: readonly string[],
  cwd: string,
  expectCode = 0,
  env: NodeJS.ProcessEnv = process.env,
): Timing {
  const start = performance.now();
  const result = spawnSync("/usr/bin/time", ["-f", "CPU %U %S", process.execPath, ...args], {
    cwd,
    encoding: "utf8",
    env,
  });
  const wall = performance.now() - start;
  if (result.status !== expectCode) {
    throw new Error(
      `'${args.join(" ")}' exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  const match = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
  if (match === null) throw new Error(`no CPU time in:\n${result.stderr}`);
  return { wall, cpu: (Number(match[1]) + Number(match[2])) * 1000 };
}

/** Runs one step in this process (after building what it needs) and prints its timing. */
function runStep(step: Step): void {
  const source = { path: "schema.entdb", text: generateSchemaPair().old };
  // Timed cold like the others: no compile runs before it in this process.
  if (step === "schema compile") {
    printTiming(() => compileSchema(source));
    return;
  }
  const schema = compileSchema(source).schema;
  if (schema === undefined) throw new Error("the bench schema does not compile");
  const descriptors = step === "protobuf-es" ? buildFileDescriptors(schema) : undefined;
  const work: Record<Exclude<Step, "schema compile">, () => unknown> = {
    "descriptor + .proto text": () => buildProtoFiles(schema),
    "protobuf-es": () => descriptors !== undefined && generateEs(descriptors),
    client: () => generateClient(schema),
    sql: () => printSqlFile(schema),
    lock: () => [lockFromSchema(schema), schemaFingerprint(schema)],
  };
  printTiming(work[step]);
}

/** Runs `work` once and prints its wall and CPU time as JSON. */
function printTiming(work: () => unknown): void {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  work();
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ wall, cpu: (cpu.user + cpu.system) / 1000 }));
}

function stepTiming(step: Step): Timing {
  const result = spawnSync(process.execPath, [SELF, "--step", step], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`step '${step}' failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as Timing;
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

function filesEndingWith(dir: string, suffix: string): number {
  return filesBelow(join(dir, "generated")).filter((f) => f.endsWith(suffix)).length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function main(runs: number): void {
  const timings = new Map<string, Timing[]>();
  const record = (name: string, timing: Timing): void => {
    timings.set(name, [...(timings.get(name) ?? []), timing]);
  };
  const sizes: [string, number][] = [];
  for (let run = 0; run < runs; run++) {
    for (const step of STEPS) record(`step ${step}`, stepTiming(step));
    const dir = makeRepoTempDir("generate-bench");
    try {
      writeFileSync(join(dir, "schema.entdb"), generateSchemaPair().old);
      // The repo's compiler options, over the output only.
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          extends: relative(dir, join(REPO_ROOT, "tsconfig.json")),
          include: ["generated"],
          exclude: [],
        }),
      );
      const generate = ["--out", "generated", "schema.entdb"];
      const gen = (name: string, extra: readonly string[] = []): void =>
        record(name, timed([BIN, "generate", ...extra, ...generate], dir));
      gen("generate (first run)");
      gen("generate (unchanged)");
      gen("generate --check", ["--check"]);
      // A fresh checkout: all output missing.
      rmSync(join(dir, "generated"), { recursive: true });
      gen("generate (no output)");
      // One node type edited: its .proto and _pb files change.
      writeFileSync(join(dir, "schema.entdb"), oneTypeEdited(generateSchemaPair().old));
      gen("generate (one type changed)");
      record("tsc --noEmit on the output", timed([TSC, "--noEmit", "-p", "."], dir));
      if (run === 0) {
        let total = 0;
        // One `.proto`, `_pb.js` and `_pb.d.ts` per type: summed by kind.
        const byKind = new Map<string, number>();
        for (const file of filesBelow(join(dir, "generated"))) {
          const size = statSync(join(dir, "generated", file)).size;
          total += size;
          const kind = /(\.proto|_pb\.js|_pb\.d\.ts)$/.exec(file)?.[1];
          const name = kind === undefined ? file : `*${kind} (${filesEndingWith(dir, kind)})`;
          byKind.set(name, (byKind.get(name) ?? 0) + size);
        }
        sizes.push(...byKind);
        sizes.push(["out dir total", total]);
        sizes.push(["schema.lock.json", statSync(join(dir, "schema.lock.json")).size]);
      }
    } finally {
      removeRepoTempDir(dir);
    }
  }
  const rows: [string, string, string][] = [["", "wall", "cpu"]];
  for (const [name, list] of timings) {
    rows.push([name, ms(median(list.map((t) => t.wall))), ms(median(list.map((t) => t.cpu)))]);
  }
  for (const [file, size] of sizes) rows.push([`size ${file}`, kb(size), ""]);
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(
    `entdb generate, 500 types / 10,000 fields (${process.version}), median of ${runs} runs`,
  );
  for (const [name, a, b] of rows) {
    console.log(`${name.padEnd(width)}  ${a.padStart(10)}  ${b.padStart(10)}`);
  }
}

/** `schema` with the doc comment of one node type reworded (not a breaking change). */
function oneTypeEdited(schema: string): string {
  const doc = "/// Node type number 7.\n";
  if (!schema.includes(doc)) throw new Error("the bench schema has no Node7 doc comment");
  return schema.replace(doc, "/// Node type number 7, reworded.\n");
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

const args = process.argv.slice(2);
if (args[0] === "--step") {
  runStep(args[1] as Step);
} else {
  const runsAt = args.indexOf("--runs");
  main(runsAt === -1 ? 3 : Number(args[runsAt + 1]));
}
