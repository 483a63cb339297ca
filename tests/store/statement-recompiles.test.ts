/**
 * Statements of the write path and the log do not compile again on every call
 * (`statement-recompiles.ts` says how that is measured and why it happens).
 */

import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { UNRESTRICTED } from "../../server/acl/read-scope.ts";
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
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return seen;
}

describe("statement recompiles", () => {
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
      ...[1, 2, 3].map((n) =>
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
