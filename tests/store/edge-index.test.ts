import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DELETE_EDGES_TO,
  EDGES_BY_TO,
  edgeCountSql,
  edgeEnds,
  edgePageSql,
  neighborsSql,
} from "../../server/store/edge-sql.ts";
import { EDGE_COLUMNS } from "../../server/store/row-codec.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";

/**
 * The index each edge lookup uses on a tenant created while the server runs: no planner
 * statistics yet, thousands of edges of one type. The in direction must use `edges_by_to`
 * (a range of the edges into one node), never the primary key (every edge of the type).
 */
describe("edge lookups on a tenant without statistics", () => {
  let dir: string;
  let db: TenantDb;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "entdb-edge-index-"));
    db = TenantDb.open("acme", join(dir, "acme.db"), true)!;
    const insert = db.db.prepare(
      "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (?, ?, ?, '{}', 0)",
    );
    db.db.transaction(() => {
      for (let i = 0; i < 4000; i++) insert.run(100n, `u${i % 400}`, `t${Math.floor(i / 10)}`);
    })();
  });

  afterEach(() => {
    db.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The plan's detail lines for `sql` with `params`. */
  function plan(sql: string, ...params: unknown[]): string[] {
    return (db.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (r) => r.detail,
    );
  }

  it("has no statistics for edges, so the planner cannot rely on them", () => {
    const stat = db.db
      .prepare("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
      .pluck()
      .get() as bigint;
    const rows =
      stat === 0n
        ? 0n
        : (db.db
            .prepare("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'edges'")
            .pluck()
            .get() as bigint);
    expect(rows).toBe(0n);
  });

  it("would scan every edge of the type through the primary key if the index were not named", () => {
    const unpinned = `SELECT ${EDGE_COLUMNS} FROM edges WHERE edge_type_id = ? AND to_id = ? ORDER BY from_id LIMIT ?`;
    expect(plan(unpinned, 100n, "t5", 11n)).toEqual([
      "SEARCH edges USING PRIMARY KEY (edge_type_id=?)",
    ]);
  });

  it("pages, counts and walks the edges into a node through edges_by_to", () => {
    const inbound = edgeEnds(true);
    const range = `(edge_type_id=? AND to_id=?)`;
    expect(plan(edgePageSql(inbound, EDGE_COLUMNS, "", ""), 100n, "t5", 11n)).toEqual([
      `SEARCH edges USING INDEX ${EDGES_BY_TO} ${range}`,
    ]);
    expect(
      plan(edgePageSql(inbound, EDGE_COLUMNS, " AND from_id > ?", ""), 100n, "t5", "u3", 11n),
    ).toEqual([
      `SEARCH edges USING INDEX ${EDGES_BY_TO} (edge_type_id=? AND to_id=? AND from_id>?)`,
    ]);
    expect(plan(edgeCountSql(inbound, ""), 100n, "t5")).toEqual([
      `SEARCH edges USING COVERING INDEX ${EDGES_BY_TO} ${range}`,
    ]);
    expect(plan(neighborsSql(inbound), 100n, "t5")).toEqual([
      `SEARCH edges USING COVERING INDEX ${EDGES_BY_TO} ${range}`,
    ]);
    expect(plan(DELETE_EDGES_TO, 100n, "t5")).toEqual([
      `SEARCH edges USING INDEX ${EDGES_BY_TO} ${range}`,
    ]);
  });

  it("pages the edges from a node through the primary key", () => {
    expect(plan(edgePageSql(edgeEnds(false), EDGE_COLUMNS, "", ""), 100n, "u5", 11n)).toEqual([
      "SEARCH edges USING PRIMARY KEY (edge_type_id=? AND from_id=?)",
    ]);
  });

  it("answers the edges into a node in from_id order", () => {
    const rows = db.db
      .prepare(edgePageSql(edgeEnds(true), EDGE_COLUMNS, "", ""))
      .all(100n, "t5", 11n) as { from_id: string; to_id: string }[];
    expect(rows.map((r) => r.from_id)).toEqual(
      Array.from({ length: 10 }, (_, k) => `u${50 + k}`).sort(),
    );
    expect(new Set(rows.map((r) => r.to_id))).toEqual(new Set(["t5"]));
  });
});
