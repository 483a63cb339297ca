/**
 * Access control's read cost: a `QueryNodes` page of 50 and a point read for a
 * principal with 1,000 grants and 20 groups, in a tenant of 100k nodes, against the
 * same reads in dev mode (unrestricted). Reads go through the store reader with the
 * scope the API computes, so the SQL is the server's; the rows are inserted directly
 * (this measures reads, not the applier).
 *
 * Built for a shared, noisy machine: the two sides run in short alternating rounds
 * (which side goes first alternates too), each round timed in CPU time of this process
 * (time spent descheduled while other processes run does not count), and each side is
 * reported as the median and the fastest of its rounds, with the ratio of each and the
 * aim beside them. Then the same reads end to end, through two `entdb serve` children
 * (`access-serve-bench.ts`). Run with `node tests/bench/access-bench.ts [nodes] [rounds]`.
 * Not a test: it prints numbers and checks only that the reads answer what it expects.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readScopeOf, UNRESTRICTED } from "../../server/acl/read-scope.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { loadedGrantsWithoutDenies } from "../../server/store/granted-ids.ts";
import { openStore } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { compile, lookupOf, served } from "../store/store-fixtures.ts";
import { runServeBench } from "./access-serve-bench.ts";

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

const ROUNDS = Number(process.argv[3] ?? 40);
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
/** CPU time of this process (user and system), in microseconds. */
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

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
  // The same reader vouched for by one more group, which has no grants: a principal set
  // that never runs a private query, so its point reads find no granted ids loaded by a
  // query (the first of them loads them: granted-ids.ts).
  const scopeVouchedBy = (group: string) =>
    readScopeOf({ id: me, groups: [group] }, readTenantAccess(db), BigInt(Date.now()) * 1000n);
  const coldScope = scopeVouchedBy("group:vouched");
  // Principal sets never read before, one per call: each call is the first read of its
  // set since the last access change.
  const firstScopes = Array.from({ length: 4_096 }, (_, i) => scopeVouchedBy(`group:first${i}`));
  let nextFirst = 0;
  const firstScope = () => firstScopes[nextFirst++ % firstScopes.length]!;
  /** Mean CPU time of one call of `fn` over `runs` calls, in microseconds. */
  const time = (fn: () => void, runs: number): number => {
    const start = cpuMicros();
    for (let i = 0; i < runs; i++) fn();
    return (cpuMicros() - start) / runs;
  };
  const granted = `n${String(((3 * 97) % NODES) | 1).padStart(7, "0")}`;
  // Each read with the ratio it should stay within (issue 10), if it has one.
  const rows: [string, number | undefined, () => void, () => void][] = [
    [
      "QueryNodes 50, tenant-visible type",
      undefined,
      () => reader.queryNodes("bench", 1, { filters: [], limit: 50, cursor: "" }, scope),
      () => reader.queryNodes("bench", 1, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED),
    ],
    [
      "QueryNodes 50, private type",
      1.3,
      () => reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, scope),
      () => reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED),
    ],
    [
      "GetNode, granted private node",
      1.2,
      () => reader.getNode("bench", 2, granted, scope),
      () => reader.getNode("bench", 2, granted, UNRESTRICTED),
    ],
    [
      "GetNode, same, a principal set that ran no query",
      1.2,
      () => reader.getNode("bench", 2, granted, coldScope),
      () => reader.getNode("bench", 2, granted, UNRESTRICTED),
    ],
    [
      "GetNode, same, the set's first read since an access change",
      undefined,
      () => reader.getNode("bench", 2, granted, firstScope()),
      () => reader.getNode("bench", 2, granted, UNRESTRICTED),
    ],
  ];
  const page = reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, scope);
  const open = reader.queryNodes("bench", 2, { filters: [], limit: 50, cursor: "" }, UNRESTRICTED);
  if (
    page.items.length !== 50 ||
    open.items.length !== 50 ||
    reader.getNode("bench", 2, granted, scope) === undefined ||
    reader.getNode("bench", 2, granted, coldScope) === undefined ||
    reader.getNode("bench", 2, granted, firstScope()) === undefined ||
    scope.unrestricted ||
    loadedGrantsWithoutDenies(db, scope.principals) === undefined
  )
    throw new Error("the restricted reads do not return what the benchmark expects");
  console.log(
    `tenant of ${NODES} nodes; reader with ${GRANTS} grants and ${GROUPS} groups; ${ROUNDS} alternating rounds per read, CPU time per call\n`,
  );
  console.log(
    "| read | with access, median / fastest (µs) | dev mode, median / fastest (µs) | ratio of medians | ratio of fastest | aim |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [label, aim, restricted, open] of rows) {
    // About 10 ms of CPU per round: long against the clock's resolution, short against
    // a burst of load.
    const runs = label.includes("first read") ? 20 : label.startsWith("GetNode") ? 2_000 : 100;
    time(open, runs);
    time(restricted, runs);
    const as: number[] = [];
    const bs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        bs.push(time(open, runs));
        as.push(time(restricted, runs));
      } else {
        as.push(time(restricted, runs));
        bs.push(time(open, runs));
      }
    }
    const [a, b] = [median(as), median(bs)];
    const [fa, fb] = [Math.min(...as), Math.min(...bs)];
    const us = (x: number) => x.toFixed(1);
    const ratio = (x: number) => `${x.toFixed(2)}×`;
    console.log(
      `| ${label} | ${us(a)} / ${us(fa)} | ${us(b)} / ${us(fb)} | ${ratio(a / b)} | ${ratio(fa / fb)} | ${aim === undefined ? "none" : `≤ ${aim}×`} |`,
    );
  }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// The same reads end to end, through two `entdb serve` children (access-serve-bench.ts).
await runServeBench(NODES, ROUNDS);
