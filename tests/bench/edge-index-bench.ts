/**
 * `npm run bench edges [edges]`: "10 edges to a node" on a tenant created while the server
 * runs (no planner statistics), at 40k edges of one type by default, with the statement the
 * reader uses (`edges_by_to` named) beside the same statement left to the planner. Then the
 * same after `ANALYZE`, which is what a tenant reopened later would have.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { edgeEnds, edgePageSql } from "../../server/store/edge-sql.ts";
import { EDGE_COLUMNS } from "../../server/store/row-codec.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";

const EDGES = Number(process.argv[2] ?? "40000");
const TARGETS = EDGES / 10;
const dir = mkdtempSync(join(tmpdir(), "entdb-edge-bench-"));
try {
  const db = TenantDb.open("acme", join(dir, "acme.db"), true)!;
  const insert = db.db.prepare(
    "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (?, ?, ?, '{}', 0)",
  );
  db.db.transaction(() => {
    for (let i = 0; i < EDGES; i++) insert.run(100n, `u${i % TARGETS}`, `t${Math.floor(i / 10)}`);
  })();
  const pinned = edgePageSql(edgeEnds(true), EDGE_COLUMNS, "", "");
  const unpinned = pinned.replace(/FROM edges INDEXED BY \w+/, "FROM edges");

  /** Median µs per call of `sql` over `runs` calls on random targets, and its plan. */
  const measure = (sql: string, runs: number) => {
    const stmt = db.db.prepare(sql);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const target = `t${Math.floor(Math.random() * TARGETS)}`;
      const t0 = process.hrtime.bigint();
      const rows = stmt.all(100n, target, 11n);
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (rows.length !== 10) throw new Error(`${target}: ${rows.length} edges, expected 10`);
    }
    times.sort((a, b) => a - b);
    const plan = (
      db.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(100n, "t1", 11n) as { detail: string }[]
    )
      .map((r) => r.detail)
      .join("; ");
    return { us: times[Math.floor(times.length / 2)]!, plan };
  };

  console.log(`10 edges to a node, ${EDGES.toLocaleString("en-US")} edges of one type\n`);
  console.log("| statistics | statement | µs per call (median) | plan |");
  console.log("|---|---|---:|---|");
  for (const stats of ["none (fresh tenant)", "ANALYZE"]) {
    if (stats === "ANALYZE") db.db.exec("ANALYZE");
    for (const [name, sql, runs] of [
      ["left to the planner", unpinned, 200],
      ["edges_by_to named", pinned, 5000],
    ] as const) {
      const m = measure(sql, runs);
      console.log(`| ${stats} | ${name} | ${m.us.toFixed(1)} | ${m.plan} |`);
    }
  }
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
