/**
 * `npm run bench [name...]`: runs the benchmarks (each prints its own table), one
 * after another so they do not compete for the two cores. With no names, runs all but
 * the opt-in ones (`pg` needs PostgreSQL 15 and Go; `npm run bench:pg` runs it alone).
 * Benchmarks are measurements, not tests: nothing here passes or fails on a number.
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";

const benches: Record<string, { file: string; args: string[]; what: string; optIn?: boolean }> = {
  check: {
    file: "check-bench.ts",
    args: ["5"],
    what: "parse + check a 500-type, 10k-field schema pair",
  },
  generate: {
    file: "generate-bench.ts",
    args: ["--runs", "1"],
    what: "entdb generate on that schema, output size, tsc time",
  },
  wal: {
    file: "wal-bench.ts",
    args: ["2", "1"],
    what: "embedded WAL appends at 1/16/64 appenders",
  },
  access: {
    file: "access-bench.ts",
    args: ["100000"],
    what: "reads with access control (1,000 grants, 20 groups, 100k nodes) vs dev mode, in the store and through entdb serve",
  },
  edges: {
    file: "edge-index-bench.ts",
    args: ["40000"],
    what: "10 edges to a node at 40k edges on a fresh tenant: edges_by_to named vs the planner",
  },
  search: {
    file: "search-bench.ts",
    args: ["100000", "200"],
    what: "full-text search on 100k documents: p50/p99 of a page of 20 by query shape",
  },
  mailbox: {
    file: "mailbox-bench.ts",
    args: ["5000", "20"],
    what: "mailbox fan-out: one message to a 5,000-member group in one transaction; mailbox reads",
  },
  server: {
    file: "server-bench.ts",
    args: ["3", "--wal", "kafka,kinesis"],
    what: "entdb serve: plans, reads, queries vs raw SQLite; RSS; plans on Kafka and Kinesis",
  },
  archive: {
    file: "archive-bench.ts",
    args: ["100000", "5"],
    what: "archive to S3 (moto): upload, replay from the archive, a snapshot, archiver overhead on writes",
  },
  apply: {
    file: "../apply/apply-bench.ts",
    args: [],
    what: "the applier alone: plans/s and CPU per plan and per op, incl. the archive replay's log",
  },
  subscribe: {
    file: "subscribe-bench.ts",
    args: ["200"],
    what: "Subscribe: delivery latency at 100 subscribers; RSS with 1,000 idle subscribers",
  },
  pg: {
    file: "pg-bench.ts",
    args: ["5"],
    what: "EntDB (Connect, gRPC) and PostgreSQL 15 side by side, Go load generator and pgbench",
    optIn: true,
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in benches)) {
    console.error(`Unknown benchmark '${name}'; choose from: ${Object.keys(benches).join(", ")}.`);
    process.exit(2);
  }
}
const defaults = Object.keys(benches).filter((name) => !benches[name]!.optIn);
for (const name of wanted.length > 0 ? wanted : defaults) {
  const bench = benches[name]!;
  console.log(`\n## ${name}: ${bench.what}\n`);
  const run = spawnSync(process.execPath, [join(import.meta.dirname, bench.file), ...bench.args], {
    stdio: "inherit",
  });
  if (run.status !== 0) {
    console.error(`benchmark '${name}' exited with ${run.status ?? run.signal}`);
    process.exitCode = 1;
  }
}
