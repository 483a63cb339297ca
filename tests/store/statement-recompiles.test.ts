/**
 * Statements of the write path, the log and the read paths do not compile again on every
 * call (`statement-recompiles.ts` says how that is measured and why it happens), and the
 * reads' `+?` parameters plan exactly as bare `?` would with the same values.
 */

import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  Direction,
  type Filter,
  FilterOp,
  FilterSchema,
  OrderBySchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { type ReadScope, UNRESTRICTED } from "../../server/acl/read-scope.ts";
import { listMailbox, mailboxUnreadCounts } from "../../server/store/mailbox-query.ts";
import type { TenantDb } from "../../server/store/tenant-db.ts";
import { SqliteWalFile, WAL_READ_SQL, WAL_TRUNCATE_SQL } from "../../server/wal/sqlite-wal-file.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import { plusParameters, probeRecompile } from "./statement-recompiles.ts";
import { accessEvent, op, T, T0_MS, tempDir, userFields, v } from "./store-fixtures.ts";

/** Wraps `db.stmt` so each statement's SQL and last parameters are kept. */
function recordStatements(db: TenantDb): Map<string, unknown[]> {
  const seen = new Map<string, unknown[]>();
  const stmt = db.stmt.bind(db);
  db.stmt = (sql: string) => {
    const s = stmt(sql);
    return new Proxy(s, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (key === "get" || key === "all" || key === "run" || key === "iterate")
          return (...params: unknown[]) => {
            seen.set(sql, params);
            return (value as (...a: unknown[]) => unknown).apply(target, params);
          };
        if (typeof value !== "function") return value;
        // `pluck()`, `raw()` and the like return the statement: keep recording its calls.
        return (...a: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, a);
          return result === target ? receiver : result;
        };
      },
    });
  };
  return seen;
}

// Each case seeds a graph and probes every statement's plan: 2–12 s alone, and it went
// past the default 30 s twice on a machine at load average 12 (a budget, not a timing).
describe("statement recompiles", { timeout: 90_000 }, () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("the probe tells a recompiling statement from one that is not", () => {
    const db = new Database(":memory:");
    db.exec(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v INT); CREATE INDEX t_v ON t(v);" +
        " WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 2000) INSERT INTO t SELECT x, x % 10 FROM s; ANALYZE",
    );
    expect(probeRecompile(db, "SELECT id FROM t WHERE v = 1 LIMIT ?", [5]).recompiles).toBe(true);
    expect(probeRecompile(db, "SELECT id FROM t WHERE v = ? LIMIT 5", [1]).recompiles).toBe(true);
    expect(probeRecompile(db, "SELECT id FROM t WHERE v = +? LIMIT +?", [1, 5]).recompiles).toBe(
      false,
    );
    db.close();
  });

  it("every statement a plan's apply runs", () => {
    h = openHarness({ partitions: 1 });
    h.plan("acme", "seed", [
      op.createNode(T.User, "u0", userFields(0)),
      ...Array.from({ length: 12 }, (_, k) => k + 1).map((n) =>
        op.createNode(T.Team, `t${n}`, { 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) }),
      ),
    ]);
    const db = h.store.tenant("acme", false)!;
    const seen = recordStatements(db);
    const since = { 1: v.enum(1), 2: v.ts(T0_MS) };
    for (let i = 1; i <= 40; i++) {
      h.plan("acme", `k${i}`, [
        op.createNode(T.User, `u${i}`, userFields(i)),
        op.updateNode(T.User, `u${i - 1}`, { 2: v.str(`Renamed ${i}`) }),
        op.createEdge(T.MemberOf, `u${i}`, `t${1 + (i % 3)}`, since),
      ]);
    }
    db.db.exec("ANALYZE");
    h.plan("acme", "k1", [op.createNode(T.User, "u1", userFields(1))]);
    h.plan("acme", "dup", [op.createNode(T.User, "uX", userFields(3))]);
    h.plan("acme", "edges", [
      op.createEdge(T.MemberOf, "u1", "t2", since),
      op.createEdge(T.MemberOf, "u2", "t3", { 1: v.enum(2), 2: v.ts(T0_MS + 1) }),
      op.deleteEdge(T.MemberOf, "u3", "t1"),
    ]);
    h.plan("acme", "del", [op.deleteNode(T.User, "u5")]);
    h.plan("acme", "gone", [op.createEdge(T.MemberOf, "u5", "t1", since)]);
    expect([...seen.keys()].filter((sql) => sql.includes("edges")).length).toBeGreaterThan(3);
    expect(recompiling(db.db, seen)).toEqual([]);
  });

  it("every statement access changes and checked writes run", () => {
    h = openHarness({ partitions: 1 });
    const admin = { actor: "user:root", actorAdmin: true, openAccess: false };
    const alice = { actor: "user:alice", openAccess: false };
    const access = (key: string, change: Parameters<typeof accessEvent>[2], by = alice) =>
      h!.run([{ tenant: "acme", payload: accessEvent("acme", key, change, by) }]);
    access("owner", { case: "createTenantOwner", value: "user:alice" }, admin);
    const db = h.store.tenant("acme", false)!;
    const seen = recordStatements(db);
    access("g", { case: "createGroup", value: "group:eng" });
    for (let i = 0; i < 30; i++) {
      h.plan("acme", `n${i}`, [op.createNode(T.User, `u${i}`, userFields(i))], alice);
      access(`m${i}`, { case: "addMember", value: { principal: `user:p${i}`, role: "member" } });
      access(`s${i}`, {
        case: "share",
        value: { nodeId: `u${i}`, principal: `user:p${i % 5}`, capability: "edit" },
      });
      if (i % 3 === 0)
        access(`gm${i}`, {
          case: "addGroupMember",
          value: { group: "group:eng", principal: `user:p${i}` },
        });
    }
    db.db.exec("ANALYZE");
    access("role", { case: "setMemberRole", value: { principal: "user:p1", role: "viewer" } });
    access("rev", { case: "revoke", value: { nodeId: "u1", principal: "user:p1" } });
    access("rgm", {
      case: "removeGroupMember",
      value: { group: "group:eng", principal: "user:p3" },
    });
    access("rm", { case: "removeMember", value: "user:p2" });
    h.plan("acme", "edit", [op.updateNode(T.User, "u2", { 2: v.str("Edited") })], {
      actor: "user:p2",
      openAccess: false,
    });
    h.plan("acme", "edit2", [op.updateNode(T.User, "u4", { 2: v.str("Edited") })], {
      actor: "user:p4",
      openAccess: false,
    });
    const count = (sql: string) => Number((db.db.prepare(sql).get() as { n: bigint }).n);
    expect(count("SELECT count(*) AS n FROM access_grants")).toBe(29);
    expect(count("SELECT count(*) AS n FROM access_group_members")).toBe(9);
    expect(count("SELECT count(*) AS n FROM nodes WHERE payload LIKE '%Edited%'")).toBe(1);
    expect(recompiling(db.db, seen)).toEqual([]);
  });

  it("mailbox listings and unread counts", () => {
    h = openHarness({ partitions: 1 });
    h.plan(
      "acme",
      "seed",
      Array.from({ length: 20 }, (_, n) => op.createNode(T.User, `u${n}`, userFields(n))),
    );
    const db = h.store.tenant("acme", false)!;
    const insert = db.db.prepare(
      "INSERT INTO mailbox_items (recipient, node_id, type_id, reason, delivered_at, read, archived, starred) VALUES (?, ?, ?, 100, ?, ?, 0, 0)",
    );
    for (let i = 0; i < 400; i++)
      insert.run(
        `user:r${i % 20}`,
        `u${Math.floor(i / 20)}`,
        BigInt(1 + (i % 3)),
        BigInt(T0_MS * 1000 + i),
        BigInt(i % 2),
      );
    db.db.exec("ANALYZE");
    const seen = recordStatements(db);
    const query = {
      recipient: "user:r3",
      unreadOnly: false,
      typeIds: [] as number[],
      includeArchived: false,
      starredOnly: false,
      limit: 1,
      cursor: "",
    };
    const first = listMailbox(db, undefined, query, UNRESTRICTED);
    expect(first.items).toHaveLength(1);
    listMailbox(db, undefined, { ...query, cursor: first.nextCursor }, UNRESTRICTED);
    listMailbox(
      db,
      undefined,
      { ...query, unreadOnly: true, typeIds: [1, 2], deliveredAfter: BigInt(T0_MS * 1000 + 10) },
      UNRESTRICTED,
    );
    listMailbox(db, undefined, { ...query, parent: { id: "t1", edgeTypeId: 100 } }, UNRESTRICTED);
    mailboxUnreadCounts(db, undefined, "user:r3", UNRESTRICTED);
    expect(seen.size).toBe(5);
    expect(recompiling(db.db, seen)).toEqual([]);
  });

  it("edge pages, counts and neighbours, from and to a node, with cursors", () => {
    h = openHarness({ partitions: 1 });
    seedGraph(h);
    const db = h.store.tenant("acme", false)!;
    const seen = recordStatements(db);
    for (const [direction, node] of [
      [Direction.OUT, "u1"],
      [Direction.IN, "t1"],
    ] as const) {
      for (const scope of [UNRESTRICTED, MEMBER]) {
        const first = h.reader.listEdges(
          "acme",
          T.MemberOf,
          node,
          { direction, limit: 1, cursor: "", includeCount: true },
          scope,
        );
        expect(first.items).toHaveLength(1);
        expect(first.totalCount).toBe(direction === Direction.OUT ? 10 : 24);
        const next = h.reader.listEdges(
          "acme",
          T.MemberOf,
          node,
          { direction, limit: 1, cursor: first.nextCursor, includeCount: false },
          scope,
        );
        expect(next.items).toHaveLength(1);
      }
      const walk = h.reader.traverse("acme", node, {
        edgeTypeIds: [T.MemberOf],
        direction,
        maxDepth: 2,
        maxNodes: 5,
      });
      expect(walk.nodes).toHaveLength(5);
    }
    const sqls = [...seen.keys()];
    expect(sqls.filter((sql) => sql.includes("FROM edges WHERE")).length).toBeGreaterThanOrEqual(3);
    expect(
      sqls.filter((sql) => sql.includes("FROM edges INDEXED BY edges_by_to WHERE")).length,
    ).toBeGreaterThanOrEqual(3);
    expect(recompiling(db.db, seen)).toEqual([]);
    expect(planChanges(db.db, seen)).toEqual([]);
  });

  it("filtered and ordered node queries, with cursors", () => {
    h = openHarness({ partitions: 1 });
    seedGraph(h);
    const db = h.store.tenant("acme", false)!;
    const seen = recordStatements(db);
    const query = (filters: Filter[], orderBy?: { fieldId: number; descending: boolean }) => {
      const run = (cursor: string) =>
        h!.reader.queryNodes("acme", T.Task, {
          filters,
          ...(orderBy ? { orderBy: create(OrderBySchema, orderBy) } : {}),
          limit: 1,
          cursor,
        });
      const first = run("");
      expect(first.items).toHaveLength(1);
      expect(run(first.nextCursor).items).toHaveLength(1);
      return first;
    };
    const status = (op: FilterOp, ...values: number[]) =>
      filter(5, op, ...values.map((n) => v.enum(n)));
    query([status(FilterOp.EQ, 2)]);
    query([status(FilterOp.IN, 1, 3)]);
    query([status(FilterOp.NE, 2)]);
    query([filter(7, FilterOp.GTE, v.ts(T0_MS + 50_000))]);
    query([filter(7, FilterOp.LT, v.ts(T0_MS + 150_000))], { fieldId: 7, descending: true });
    query([filter(0, FilterOp.PREFIX, v.str("task01"))]);
    query([filter(0, FilterOp.GT, v.str("task0100"))]);
    query([filter(3, FilterOp.CONTAINS, v.str("bug"))]);
    query([filter(9, FilterOp.CONTAINS, v.str("ui"))]);
    query([filter(1, FilterOp.EQ, v.ref("p1")), status(FilterOp.EQ, 3)], {
      fieldId: 7,
      descending: false,
    });
    // Ascending by `due`, the first rows have none: the next page's cursor key is null.
    query([], { fieldId: 7, descending: false });
    query([], { fieldId: 7, descending: true });
    query([], { fieldId: 2, descending: false });
    query([status(FilterOp.EQ, 2)], { fieldId: 7, descending: true });
    query([status(FilterOp.EQ, 2)], undefined);
    h.reader.queryNodes("acme", T.Task, { filters: [], limit: 1, cursor: "" }, MEMBER);
    for (const scope of [UNRESTRICTED, MEMBER]) {
      expect(h.reader.getNode("acme", T.Task, taskId(5), scope)?.id).toBe(taskId(5));
      expect(
        h.reader.getNodes("acme", T.Task, [taskId(6), taskId(7)], scope).map((n) => n.id),
      ).toEqual([taskId(6), taskId(7)]);
    }
    expect([...seen.keys()].filter((sql) => sql.includes("INDEXED BY")).length).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThan(15);
    expect(recompiling(db.db, seen)).toEqual([]);
    expect(planChanges(db.db, seen)).toEqual([]);
  });

  it("search by relevance and by field, with cursors, and mailbox search", () => {
    h = openHarness({ partitions: 1 });
    seedGraph(h);
    const db = h.store.tenant("acme", false)!;
    const insert = db.db.prepare(
      "INSERT INTO mailbox_items (recipient, node_id, type_id, reason, delivered_at, read, archived, starred) VALUES (?, ?, ?, 100, ?, 0, 0, 0)",
    );
    for (let i = 1; i <= 200; i++)
      insert.run(`user:r${i % 10}`, taskId(i), BigInt(T.Task), BigInt(T0_MS * 1000 + i));
    db.db.exec("ANALYZE");
    const seen = recordStatements(db);
    const search = (extra: {
      orderBy?: { fieldId: number; descending: boolean };
      mailbox?: string;
      filters?: Filter[];
      scope?: ReadScope;
    }) => {
      const run = (cursor: string) =>
        h!.reader.search(
          "acme",
          {
            query: "bug",
            typeIds: [T.Task],
            filters: extra.filters ?? [],
            ...(extra.orderBy ? { orderBy: create(OrderBySchema, extra.orderBy) } : {}),
            ...(extra.mailbox ? { mailbox: extra.mailbox } : {}),
            limit: 1,
            cursor,
            highlight: { start: "[", end: "]" },
            snippetTokens: 4,
          },
          extra.scope,
        );
      const first = run("");
      expect(first.hits).toHaveLength(1);
      expect(run(first.nextCursor).hits).toHaveLength(1);
    };
    search({});
    search({ orderBy: { fieldId: 7, descending: false } });
    search({
      orderBy: { fieldId: 7, descending: true },
      filters: [filter(5, FilterOp.EQ, v.enum(3))],
    });
    search({ mailbox: "user:r2" });
    search({ mailbox: "user:r4", orderBy: { fieldId: 2, descending: true } });
    search({ scope: MEMBER });
    // Mailbox search: relevance's first page, its later pages (restricted to the snapshot's
    // seqs), and the field-ordered page and its next.
    expect([...seen.keys()].filter((sql) => sql.includes("mailbox_items")).length).toBe(4);
    expect(recompiling(db.db, seen)).toEqual([]);
    expect(planChanges(db.db, seen)).toEqual([]);
  });

  it("the embedded log's reads and truncation", () => {
    const dir = tempDir("wal");
    try {
      const path = join(dir.path, "wal.sqlite");
      const wal = SqliteWalFile.open({ path, partitions: 2 });
      const rows = [];
      for (let i = 0; i < 600; i++)
        rows.push({
          partition: i % 2,
          offset: i >> 1,
          tenant: "acme",
          payload: new Uint8Array(40),
        });
      wal.commit(rows);
      wal.close();
      const db = new Database(path);
      db.exec("ANALYZE");
      const seen = new Map<string, unknown[]>([
        [WAL_READ_SQL, [1, 100, 1]],
        [WAL_TRUNCATE_SQL, [1, 100, 299, 1]],
      ]);
      expect(recompiling(db, seen)).toEqual([]);
      db.close();
    } finally {
      dir.remove();
    }
  });
});

/** The statements of `seen` that take parameters and compile again on every call. */
function recompiling(db: Database.Database, seen: ReadonlyMap<string, unknown[]>): string[] {
  const found: string[] = [];
  for (const [sql, params] of seen) {
    if (plusParameters(sql) === sql) continue;
    const p = probeRecompile(db, sql, params);
    if (p.recompiles) found.push(`${sql} (${p.ratio.toFixed(1)}x its +? twin)`);
  }
  return found;
}

/** A reader who is a member of the tenant, so every read carries its visibility terms. */
const MEMBER: ReadScope = {
  unrestricted: false,
  actor: "user:alice",
  principals: ["user:alice", "role:member", "tenant:*"],
  atMicros: BigInt(T0_MS) * 1000n,
};

const filter = (fieldId: number, op: FilterOp, ...values: Value[]): Filter =>
  create(FilterSchema, { fieldId, op, values });

const taskId = (i: number) => `task${String(i).padStart(4, "0")}`;

/**
 * 30 users, 12 teams, 300 tasks of one project (status (i % 4) + 1, due unless i % 3 = 0,
 * "bug" in every other title); user i is a member of the ten teams from t(i % 12 + 1) on,
 * so each user has 10 edges out and t1 has 24 in; statistics gathered.
 */
function seedGraph(h: Harness): void {
  const ops = [
    ...Array.from({ length: 12 }, (_, k) => k + 1).map((n) =>
      op.createNode(T.Team, `t${n}`, { 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) }),
    ),
    op.createNode(T.Project, "p1", { 1: v.ref("t1"), 2: v.str("WEB"), 3: v.str("Web") }),
  ];
  for (let i = 1; i <= 30; i++) ops.push(op.createNode(T.User, `u${i}`, userFields(i)));
  for (let i = 1; i <= 300; i++)
    ops.push(
      op.createNode(T.Task, taskId(i), {
        1: v.ref("p1"),
        2: v.int(BigInt(i)),
        3: v.str(i % 2 === 0 ? `Fix bug ${i}` : `Add feature ${i}`),
        5: v.enum((i % 4) + 1),
        ...(i % 3 === 0 ? {} : { 7: v.ts(T0_MS + i * 1000) }),
        9: i % 2 === 0 ? v.list(v.str("bug"), v.str("ui")) : v.list(v.str("feature")),
      }),
    );
  h.plan("acme", "seed", ops);
  const since = { 1: v.enum(1), 2: v.ts(T0_MS) };
  const edges = [];
  for (let i = 1; i <= 30; i++)
    for (let k = 0; k < 10; k++)
      edges.push(op.createEdge(T.MemberOf, `u${i}`, `t${((i + k) % 12) + 1}`, since));
  h.plan("acme", "edges", edges);
  h.store.tenant("acme", false)!.db.exec("ANALYZE");
}

/**
 * The statements of `seen` whose `EXPLAIN QUERY PLAN` with their parameters differs from
 * that of the same statement with every `+?` written as a bare `?` (planned with the
 * bound values): the `+` must keep each index seek and `INDEXED BY` choice.
 */
function planChanges(db: Database.Database, seen: ReadonlyMap<string, unknown[]>): string[] {
  const plan = (sql: string, params: unknown[]) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((r) => r.detail)
      .join("\n");
  const found: string[] = [];
  for (const [sql, params] of seen) {
    const bare = sql.replace(/('(?:[^']|'')*')|\+\s*\?/g, (m, literal?: string) =>
      literal !== undefined ? m : "?",
    );
    if (bare === sql) continue;
    const [was, now] = [plan(bare, params), plan(sql, params)];
    if (was !== now) found.push(`${sql}\n  bare ?: ${was}\n  +?: ${now}`);
  }
  return found;
}
