/**
 * The ceiling for `server-bench.ts`: the same transactions on raw better-sqlite3 in one
 * process, with no network, no log and no applier. The schema mirrors a tenant file
 * (nodes with an id-keyed JSON payload, a unique expression index on the email key,
 * edges keyed by (type, from, to) with a reverse index), and the write path runs
 * `journal_mode=WAL` with `synchronous=FULL`, so every commit is fsynced like the log's.
 */

import Database from "better-sqlite3";

/** One raw measurement: operations per second and latency percentiles in ms. */
export interface RawResult {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** A raw database seeded with `seedUsers` users linked to one team. */
export interface RawBench {
  /** One plan (user + MemberOf edge) per transaction, for `seconds`. */
  plans(seconds: number): RawResult;
  /** `group` plans per transaction, the best case of group commit. */
  groupedPlans(seconds: number, group: number): RawResult;
  getOne(seconds: number): RawResult;
  query50(seconds: number): RawResult;
  listEdges(seconds: number): RawResult;
  close(): void;
}

const TEAM = "00000000000000000000000000000001";

/** Opens a raw database at `path` and seeds it. */
export function openRawBench(path: string, seedUsers: number): RawBench {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`
    CREATE TABLE nodes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type_id INTEGER NOT NULL,
      payload TEXT NOT NULL, version INTEGER NOT NULL, owner TEXT NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
    CREATE INDEX nodes_by_type ON nodes(type_id, id);
    CREATE UNIQUE INDEX ux_n1_f1 ON nodes(json_extract(payload, '$."1"')) WHERE type_id = 1;
    CREATE TABLE edges (edge_type_id INTEGER NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL,
      props TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (edge_type_id, from_id, to_id)) WITHOUT ROWID;
    CREATE INDEX edges_by_to ON edges(edge_type_id, to_id, from_id);
    CREATE TABLE outcomes (idempotency_key TEXT PRIMARY KEY, outcome TEXT NOT NULL) WITHOUT ROWID;
  `);
  const insertNode = db.prepare(
    "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, 'dev', ?, ?)",
  );
  const insertEdge = db.prepare(
    "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (100, ?, ?, ?, ?)",
  );
  const insertOutcome = db.prepare("INSERT INTO outcomes (idempotency_key, outcome) VALUES (?, ?)");
  const getNode = db.prepare("SELECT * FROM nodes WHERE id = ?");
  const query = db.prepare("SELECT * FROM nodes WHERE type_id = 1 ORDER BY id LIMIT 50");
  const edgesOf = db.prepare(
    "SELECT * FROM edges WHERE edge_type_id = 100 AND to_id = ? ORDER BY from_id LIMIT 50",
  );
  let n = 0;
  const ids: string[] = [];
  const plan = (): void => {
    const i = n++;
    const id = (i + 2).toString(16).padStart(32, "0");
    const now = Date.now() * 1000;
    insertNode.run(
      id,
      1,
      JSON.stringify({ 1: `user-${i}@example.com`, 2: `User ${i}`, 3: `user${i}`, 6: now }),
      now,
      now,
    );
    insertEdge.run(id, TEAM, JSON.stringify({ 1: 1, 2: now }), now);
    insertOutcome.run(`plan-${i}`, JSON.stringify({ results: [{ id }] }));
    ids.push(id);
  };
  const one = db.transaction(plan);
  insertNode.run(TEAM, 2, JSON.stringify({ 1: "Bench", 2: "bench" }), 0, 0);
  const seed = db.transaction(() => {
    for (let i = 0; i < seedUsers; i++) plan();
  });
  seed();

  const measure = (seconds: number, perCall: number, op: () => void): RawResult => {
    const lat: number[] = [];
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    let now = start;
    while (now < end) {
      op();
      const after = performance.now();
      lat.push(after - now);
      now = after;
    }
    lat.sort((a, b) => a - b);
    return {
      opsPerSecond: (lat.length * perCall) / ((now - start) / 1000),
      p50Ms: lat[Math.floor(lat.length * 0.5)] ?? 0,
      p99Ms: lat[Math.floor(lat.length * 0.99)] ?? 0,
    };
  };
  let r = 0;
  return {
    plans: (seconds) => measure(seconds, 1, () => one()),
    groupedPlans: (seconds, group) => {
      const many = db.transaction(() => {
        for (let i = 0; i < group; i++) plan();
      });
      return measure(seconds, group, () => many());
    },
    getOne: (seconds) => measure(seconds, 1, () => getNode.get(ids[r++ % ids.length])),
    query50: (seconds) => measure(seconds, 1, () => query.all()),
    listEdges: (seconds) => measure(seconds, 1, () => edgesOf.all(TEAM)),
    close: () => db.close(),
  };
}
