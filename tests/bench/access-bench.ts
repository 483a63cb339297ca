/**
 * Access control's read cost: a `QueryNodes` page of 50 and a point read for a
 * principal with 1,000 grants and 20 groups, in a tenant of 100k nodes, against the
 * same reads in dev mode (unrestricted). Reads go through the store reader with the
 * scope the API computes, so the SQL is the server's; the rows are inserted directly
 * (this measures reads, not the applier). Each figure is the median of 15 short rounds,
 * the two sides alternating. Run with `node tests/bench/access-bench.ts [nodes]`. Not a test: it prints numbers and asserts nothing.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readScopeOf, UNRESTRICTED } from "../../server/acl/read-scope.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { openStore } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { compile, lookupOf, served } from "../store/store-fixtures.ts";

const NODES = Number(process.argv[2] ?? 100_000);
const GRANTS = 1_000;
const GROUPS = 20;
const schema = compile(`package bench.access;

node Doc = 1 {
  title: string = 1 [required];
}

node Secret = 2 [visibility = private] {
  title: string = 1 [required];
}
`);

const ROUNDS = 15;
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

const dir = mkdtempSync(join(tmpdir(), "entdb-access-bench-"));
try {
  const store = openStore({ dataDir: dir, schemas: lookupOf(served(1, schema)) });
  const db = store.tenant("bench", true)!;
  db.migrateTo(schema);
  store.noteSchemaVersion(1);
  const me = "user:me";
  db.db.transaction(() => {
    db.db
      .prepare("INSERT INTO access_tenant (singleton, created_by, created_at) VALUES (1, ?, 0)")
      .run("user:root");
    db.db.prepare("INSERT INTO access_members VALUES ('user:owner', 'owner')").run();
    for (let g = 0; g < GROUPS; g++) {
      db.db.prepare("INSERT INTO access_groups VALUES (?)").run(`group:g${g}`);
      db.db.prepare("INSERT INTO access_group_members VALUES (?, ?)").run(`group:g${g}`, me);
      db.db.prepare("INSERT INTO access_members VALUES (?, 'member')").run(`group:g${g}`);
    }
    const node = db.db.prepare(
      "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, ?, 0, 0)",
    );
    for (let i = 0; i < NODES; i++) {
      const id = `n${String(i).padStart(7, "0")}`;
      // Half the nodes are Docs (every member reads them), half Secrets; of the
      // Secrets, one in four is the reader's own.
      const type = i % 2 === 0 ? 1 : 2;
      const owner = type === 2 && i % 8 === 1 ? me : "user:owner";
      node.run(id, type, JSON.stringify({ 1: `title ${i}` }), owner);
    }
    const grant = db.db.prepare(
      "INSERT INTO access_grants (node_id, principal, level, deny, expires_at, granted_by, granted_at) VALUES (?, ?, 1, 0, NULL, 'user:owner', 0)",
    );
    for (let i = 0; i < GRANTS; i++) {
      const n = ((i * 97) % NODES) | 1; // odd: a Secret
      grant.run(`n${String(n).padStart(7, "0")}`, i % 2 === 0 ? me : `group:g${i % GROUPS}`);
    }
  })();
  db.db.exec("ANALYZE");

  const reader = createTenantReader(store);
  const scope = readScopeOf(
    { id: me, groups: [] },
    readTenantAccess(db),
    BigInt(Date.now()) * 1000n,
  );
  const time = (fn: () => void, runs: number): number => {
    for (let i = 0; i < Math.min(50, runs); i++) fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1e3 / runs;
  };
  const granted = `n${String(((3 * 97) % NODES) | 1).padStart(7, "0")}`;
  const rows: [string, () => void, () => void][] = [
    [
      "QueryNodes 50, tenant-visible type",
      () => reader.queryNodes("bench", 1, { filters: [], limit: 50, cursor: "" }, scope),
      () => reader.queryNodes("bench", 1, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED),
    ],
    [
      "QueryNodes 50, private type",
      () => reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, scope),
      () => reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED),
    ],
    [
      "GetNode, granted private node",
      () => reader.getNode("bench", 2, granted, scope),
      () => reader.getNode("bench", 2, granted, UNRESTRICTED),
    ],
  ];
  const page = reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, scope);
  const open = reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED);
  if (
    page.items.length !== 50 ||
    open.items.length !== 50 ||
    reader.getNode("bench", 2, granted, scope) === undefined
  )
    throw new Error("the restricted reads do not return what the benchmark expects");
  console.log(`tenant of ${NODES} nodes; reader with ${GRANTS} grants and ${GROUPS} groups\n`);
  console.log("| read | with access (µs) | dev mode (µs) | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [label, restricted, open] of rows) {
    const runs = label.startsWith("GetNode") ? 4_000 : 400;
    // Short alternating rounds, so neither side profits from running second, and the
    // median of each side, so a burst of load on a shared machine skews neither.
    const as: number[] = [];
    const bs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      bs.push(time(open, runs));
      as.push(time(restricted, runs));
    }
    const a = median(as);
    const b = median(bs);
    console.log(`| ${label} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(2)}× |`);
  }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
