/**
 * `node tests/bench/tenant-pragma-bench.ts [rounds] [calls]`: what one SQLite setting costs
 * or saves on a tenant file opened as the server opens it (`TenantDb.open`), per
 * statement, in one process without HTTP: a point read by id, a 10-edge page by its
 * index, and a one-row write transaction (the node `INSERT` and `tenant_state`, as the
 * applier's smallest group), each timed with the file as `main` opens it and with one
 * setting added. Rounds alternate which goes first; prints the median (lowest) µs per
 * call of each. The data is the server bench's shape (2,400 nodes, 2,000 edges). A
 * measurement, not a test.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { tempDir } from "../store/store-fixtures.ts";

const [roundsArg = "7", callsArg = "20000"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const calls = Number(callsArg);

/**
 * Each variant: the pragmas run after `TenantDb.open`. `locking_mode = EXCLUSIVE` set
 * after the file is in WAL mode keeps its `-shm` file but takes no lock per statement
 * once the first statement took it, which is the cost it removes.
 */
const VARIANTS: Record<string, readonly string[]> = {
  main: [],
  "locking_mode = EXCLUSIVE": ["locking_mode = EXCLUSIVE"],
  "mmap_size = 256 MiB": [`mmap_size = ${256 * 1024 * 1024}`],
  "cache_size = 64 MiB": ["cache_size = -65536"],
  "temp_store = MEMORY": ["temp_store = MEMORY"],
};

const dir = tempDir("pragma-bench");

function openVariant(name: string): TenantDb {
  const path = join(dir.path, `${name.replace(/\W+/g, "_")}.sqlite`);
  for (const side of ["", "-wal", "-shm"]) rmSync(path + side, { force: true });
  const db = TenantDb.open("bench", path, true, { logIdentity: "embedded:bench" })!;
  for (const p of VARIANTS[name]!) db.db.pragma(p);
  const insert = db.db.prepare(
    "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, 'u', ?, ?)",
  );
  const edge = db.db.prepare(
    "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (1, ?, ?, '{}', 0)",
  );
  db.db.transaction(() => {
    for (let i = 0; i < 2_200; i++)
      insert.run(`u${i}`, 1, JSON.stringify({ 1: `user ${i}`, 2: `u${i}@example.com` }), i, i);
    for (let t = 0; t < 200; t++) insert.run(`t${t}`, 2, JSON.stringify({ 1: `team ${t}` }), 0, 0);
    for (let u = 0; u < 200; u++)
      for (let k = 0; k < 10; k++) edge.run(`u${u}`, `t${(u * 7 + k * 13) % 200}`);
  })();
  db.db.pragma("wal_checkpoint(TRUNCATE)");
  return db;
}

interface Rows {
  readonly [row: string]: (i: number) => void;
}

function rowsOf(db: TenantDb): Rows {
  const get = db.stmt("SELECT seq, payload, version, updated_at FROM nodes WHERE id = ?");
  const edgesIn = db
    .stmt(
      "SELECT from_id FROM edges INDEXED BY edges_by_to WHERE edge_type_id = 1 AND to_id = ? ORDER BY from_id LIMIT 10",
    )
    .pluck();
  const insert = db.stmt(
    "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 1, '{}', 1, 'u', 0, 0)",
  );
  let offset = 0;
  let written = 0;
  const write = db.db.transaction((id: string) => {
    insert.run(id);
    offset++;
    db.writeState({ partition: 0, appliedOffset: offset, schemaVersion: 0 });
  });
  return {
    "get by id": (i) => get.get(`u${i % 2_200}`),
    "10 edges to a node": (i) => edgesIn.all(`t${i % 200}`),
    "one-row write": () => write(`w${written++}`),
  };
}

const sides = Object.keys(VARIANTS).map((name) => {
  const db = openVariant(name);
  return { name, db, rows: rowsOf(db) };
});
const rowNames = Object.keys(sides[0]!.rows);
const results = new Map<string, number[]>();

for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? sides : [...sides].reverse();
  for (const row of rowNames) {
    for (const side of order) {
      const run = side.rows[row]!;
      for (let i = 0; i < 500; i++) run(i);
      const start = process.cpuUsage();
      for (let i = 0; i < calls; i++) run(i);
      const used = process.cpuUsage(start);
      const key = `${row}\t${side.name}`;
      results.set(key, [...(results.get(key) ?? []), (used.user + used.system) / calls]);
    }
    for (const side of sides) side.db.db.pragma("wal_checkpoint(TRUNCATE)");
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
console.log("| row | setting | µs/call (median, lowest) | vs main |");
console.log("|---|---|---:|---:|");
for (const row of rowNames) {
  const base = median(results.get(`${row}\tmain`)!);
  for (const side of sides) {
    const xs = results.get(`${row}\t${side.name}`)!;
    console.log(
      `| ${row} | ${side.name} | ${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}) | ${(median(xs) / base).toFixed(2)}× |`,
    );
  }
}
for (const side of sides) side.db.close();
dir.remove();
