/**
 * The merged own-and-granted walk of a private type (server/store/private-query.ts) and
 * its cache of granted ids (server/store/granted-ids.ts): pages equal to the general
 * access term's on random data, and every way access changes reaches the next read.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FilterOp, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { type ReadScope, readScopeOf } from "../../server/acl/read-scope.ts";
import type { TenantReader } from "../../server/engine.ts";
import { hasDenies, readTenantAccess } from "../../server/store/access-tables.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import {
  compareCodePoints,
  firstAfter,
  loadedGrantsWithoutDenies,
  MAX_COUNTED_SETS_PER_TENANT,
  MAX_GRANT_SETS_PER_TENANT,
  MAX_POINT_READ_GRANTS,
  POINT_READS_BEFORE_LOAD,
} from "../../server/store/granted-ids.ts";
import { compileNodeQuery } from "../../server/store/node-query.ts";
import type { NodeRow } from "../../server/store/row-codec.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import type { TenantDb } from "../../server/store/tenant-db.ts";
import { hiddenNodeTerm } from "../../server/store/visibility-sql.ts";
import { compile, lookupOf, served } from "./store-fixtures.ts";

const schema = compile(`package test.privq;

node Doc = 1 {
  title: string = 1 [required];
}

node Secret = 2 [visibility = private] {
  title: string = 1 [required];
  rank: int = 2;
}

/// Private too, walked beside Secret.
node Memo = 4 [visibility = private] {
  title: string = 1 [required];
}

/// Private, and read as the Secret it answers.
node Note = 3 [visibility = private] {
  title: string = 1 [required];
  on: ref<Secret> = 2 [inherit_access];
}
`);

const ME = "user:me";
const NOW = 1_800_000_000_000_000n;

let dir: string;
let store: Store;
let db: TenantDb;
let reader: TenantReader;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "entdb-privq-"));
  store = openStore({ dataDir: dir, schemas: lookupOf(served(1, schema)) });
  db = store.tenant("t", true)!;
  db.migrateTo(schema);
  store.noteSchemaVersion(1);
  db.db
    .prepare("INSERT INTO access_tenant (singleton, created_by, created_at) VALUES (1, ?, 0)")
    .run("user:root");
  member(ME, "member");
  reader = createTenantReader(store);
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function member(principal: string, role: string): void {
  db.db.prepare("INSERT OR REPLACE INTO access_members VALUES (?, ?)").run(principal, role);
}

function node(id: string, type: number, owner: string, payload: object = { 1: id }): void {
  db.db
    .prepare(
      "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, ?, 0, 0)",
    )
    .run(id, type, JSON.stringify(payload), owner);
}

function grant(nodeId: string, principal: string, deny = false, expires?: bigint): void {
  db.db
    .prepare(
      "INSERT OR REPLACE INTO access_grants (node_id, principal, level, deny, expires_at, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, 'user:owner', 0)",
    )
    .run(nodeId, principal, deny ? 0 : 1, deny ? 1 : 0, expires ?? null);
}

function scope(id = ME): ReadScope {
  return readScopeOf({ id, groups: [] }, readTenantAccess(db), NOW);
}

/** Every id the reader pages through, `limit` at a time. */
function walk(typeId: number, s: ReadScope, limit = 2, filters = [] as never[]): string[] {
  const ids: string[] = [];
  let cursor = "";
  do {
    const page = reader.queryNodes("t", typeId, { filters, limit, cursor }, s);
    expect(page.items.length === limit || page.nextCursor === "").toBe(true);
    ids.push(...page.items.map((n) => n.id));
    cursor = page.nextCursor;
  } while (cursor !== "");
  return ids;
}

/** The same ids through the general term (visibility-sql.ts), in one statement. */
function general(typeId: number, s: ReadScope, filters = [] as never[]): string[] {
  const type = schema.nodes.find((n) => n.id === typeId)!;
  const hidden = hiddenNodeTerm(schema, s, "nodes", { denies: hasDenies(db) }, typeId);
  const c = compileNodeQuery(schema, type, {
    filters,
    limit: 100_000,
    cursor: "",
    ...(hidden ? { hidden } : {}),
  });
  return (db.stmt(c.sql).all(...c.params) as NodeRow[]).map((r) => r.id);
}

describe("a private type read in id order", () => {
  it("pages exactly as the general access term over random owners, grants, denies and expiries", () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    member("group:a", "member");
    db.db.prepare("INSERT INTO access_groups VALUES ('group:a')").run();
    db.db.prepare("INSERT INTO access_group_members VALUES ('group:a', ?)").run(ME);
    const principals = [ME, "group:a", "role:member", "tenant:*", "user:other"];
    // Ids of both orders that JavaScript's `<` and SQLite's disagree on.
    const idOf = (i: number) =>
      i % 7 === 0 ? `s${i}\u{1F600}` : i % 11 === 0 ? `s${i}\uFF21` : `s${i}`;
    for (let i = 0; i < 160; i++) {
      const type = rnd() < 0.8 ? 2 : 1;
      node(idOf(i), type, rnd() < 0.25 ? ME : "user:owner", { 1: `t${i}`, 2: i % 5 });
      if (rnd() < 0.45) {
        const who = principals[Math.floor(rnd() * principals.length)]!;
        const deny = rnd() < 0.15;
        const expires = rnd() < 0.2 ? NOW + BigInt(Math.floor(rnd() * 3) - 1) * 1000n : undefined;
        grant(idOf(i), who, deny, expires);
      }
    }
    const s = scope();
    const expected = general(2, s);
    expect(expected.length).toBeGreaterThan(20);
    for (const limit of [1, 2, 3, 7, 50]) expect(walk(2, s, limit)).toEqual(expected);
    const rankIs3 = [
      create(FilterSchema, {
        fieldId: 2,
        op: FilterOp.EQ,
        values: [create(ValueSchema, { kind: { case: "intValue", value: 3n } })],
      }),
    ] as never[];
    expect(walk(2, s, 2, rankIs3)).toEqual(general(2, s, rankIs3));
    expect(general(2, s, rankIs3).length).toBeGreaterThan(2);
  });

  it("point reads decided from the granted ids they load answer as the general term", () => {
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    member("group:a", "member");
    db.db.prepare("INSERT INTO access_groups VALUES ('group:a')").run();
    db.db.prepare("INSERT INTO access_group_members VALUES ('group:a', ?)").run(ME);
    const principals = [ME, "group:a", "tenant:*", "user:other"];
    const ids: [string, number][] = [];
    for (let i = 0; i < 150; i++) {
      const id = i % 7 === 0 ? `p${i}\u{1F600}` : `p${i}`;
      const type = i % 5 === 0 ? 3 : rnd() < 0.75 ? 2 : 1;
      const on = ids.filter(([, t]) => t === 2)[Math.floor(rnd() * 20)]?.[0];
      node(id, type, rnd() < 0.2 ? ME : "user:owner", type === 3 ? { 1: id, 2: on } : { 1: id });
      ids.push([id, type]);
      if (rnd() < 0.5) {
        const who = principals[Math.floor(rnd() * principals.length)]!;
        const expires = rnd() < 0.3 ? NOW + BigInt(Math.floor(rnd() * 3) - 1) : undefined;
        grant(id, who, false, expires);
      }
    }
    const s = scope();
    if (s.unrestricted) throw new Error("a member's scope is restricted");
    const visible = new Set([...general(1, s), ...general(2, s), ...general(3, s)]);
    const read = () => ids.filter(([id]) => reader.getNode("t", 0, id, s) !== undefined);
    const expected = ids.filter(([id]) => visible.has(id));
    expect(expected.length).toBeGreaterThan(30);
    expect(expected.length).toBeLessThan(ids.length - 30);
    // Inside a transaction nothing is loaded (a rollback could undo what it holds): SQLite
    // decides. The no-op update drops the sets as any write to the table does.
    db.db.exec("BEGIN");
    db.db.exec("UPDATE access_grants SET level = level");
    expect(loadedGrantsWithoutDenies(db, s.principals)).toBeUndefined();
    expect(read()).toEqual(expected);
    db.db.exec("ROLLBACK");
    // Without a private query, point reads load the set part way through (POINT_READS_BEFORE_LOAD),
    // the ones after decide from it, and all answer as the general term.
    expect(read()).toEqual(expected);
    const kept = loadedGrantsWithoutDenies(db, s.principals);
    expect(kept?.ids.length).toBeGreaterThan(30);
    // Pages without any deny in the tenant, as the general term gives them, from the same set.
    for (const limit of [1, 3, 50]) expect(walk(2, s, limit)).toEqual(general(2, s));
    expect(loadedGrantsWithoutDenies(db, s.principals)).toBe(kept);
    expect(read()).toEqual(expected);
    // A deny anywhere in the tenant sends point reads back to SQLite.
    const ownerOf = (id: string) =>
      db.db.prepare("SELECT owner FROM nodes WHERE id = ?").pluck().get(id);
    const hide = expected.find(([id, t]) => t === 2 && ownerOf(id) !== ME)![0];
    grant(hide, ME, true);
    walk(2, s, 50);
    expect(loadedGrantsWithoutDenies(db, s.principals)).toBeUndefined();
    const denied = new Set([...general(1, s), ...general(2, s), ...general(3, s)]);
    expect(denied.has(hide)).toBe(false);
    expect(read()).toEqual(ids.filter(([id]) => denied.has(id)));
  });

  it("reads GetNodes' rows in one statement only while nothing of the type is hidden", () => {
    for (const id of ["d1", "d2", "d3"]) node(id, 1, "user:owner");
    for (const id of ["s1", "s2"]) node(id, 2, "user:owner");
    grant("s1", ME);
    const s = scope();
    const texts: string[] = [];
    const stmt = db.stmt.bind(db);
    db.stmt = (sql: string) => {
      texts.push(sql);
      return stmt(sql);
    };
    const read = (typeId: number, ids: string[]) => {
      texts.length = 0;
      const nodes = reader.getNodes("t", typeId, ids, s).map((n) => n.id);
      return { nodes, statements: texts.filter((t) => / (FROM|JOIN) nodes /.test(t)).length };
    };
    // Statements that read nodes rows (not the grants a decision may load). A member reads
    // every Doc: one statement for the whole rows.
    expect(read(1, ["d1", "d2", "d3", "s1"])).toEqual({ nodes: ["d1", "d2", "d3"], statements: 1 });
    // Cached now, the Docs are answered by the node cache without a statement.
    expect(read(1, ["d3", "d1", "d3"])).toEqual({ nodes: ["d3", "d1"], statements: 0 });
    // Any type holds private Secrets: each row is decided as a point read.
    expect(read(0, ["d1", "s1", "s2"]).nodes).toEqual(["d1", "s1"]);
    expect(read(2, ["s2", "s1"]).nodes).toEqual(["s1"]);
    // A deny anywhere in the tenant: every row is decided, and the denied Doc is not read.
    grant("d2", ME, true);
    expect(read(1, ["d1", "d2", "d3"])).toEqual({ nodes: ["d1", "d3"], statements: 3 });
  });

  it("pages through many rounds when most granted ids are of other types or expired", () => {
    for (let i = 0; i < 600; i++) {
      const id = `m${String(i).padStart(4, "0")}`;
      const secret = i % 3 === 0;
      node(id, secret ? 2 : 1, i % 97 === 0 ? ME : "user:owner");
      // Every Doc is granted; a Secret in nine, and of those a third only until now.
      if (!secret) grant(id, ME);
      else if (i % 9 === 0) grant(id, "tenant:*", false, i % 27 === 0 ? NOW : undefined);
    }
    const s = scope();
    const expected = general(2, s);
    expect(expected.length).toBe(47);
    for (const limit of [1, 5, 50]) expect(walk(2, s, limit)).toEqual(expected);
  });

  it("reuses a round's statement only for the same type, columns, bounds and cursor", () => {
    // Two private types interleaved, each with own and granted rows; walked alternately so
    // every round shape of one type is compiled before the other reads it.
    for (let i = 0; i < 120; i++) {
      const id = `r${String(i).padStart(3, "0")}`;
      node(id, i % 2 === 0 ? 2 : 4, i % 5 === 0 ? ME : "user:owner", { 1: id, 2: i % 3 });
      if (i % 3 === 0) grant(id, ME);
    }
    const s = scope();
    const secrets = general(2, s);
    const memos = general(4, s);
    expect(secrets.length).toBeGreaterThan(20);
    expect(memos.length).toBeGreaterThan(20);
    expect(secrets.some((id) => memos.includes(id))).toBe(false);
    for (const limit of [1, 3, 50]) {
      expect(walk(2, s, limit)).toEqual(secrets);
      expect(walk(4, s, limit)).toEqual(memos);
    }
    // A filtered query after the unfiltered ones compiles its own statement.
    const rankIs1 = [
      create(FilterSchema, {
        fieldId: 2,
        op: FilterOp.EQ,
        values: [create(ValueSchema, { kind: { case: "intValue", value: 1n } })],
      }),
    ] as never[];
    const ranked = general(2, s, rankIs1);
    expect(ranked.length).toBeGreaterThan(2);
    expect(ranked.length).toBeLessThan(secrets.length);
    expect(walk(2, s, 2, rankIs1)).toEqual(ranked);
    expect(walk(2, s, 2)).toEqual(secrets);
    // So does a tenant with a deny, and the walk without it after the deny is gone.
    const hidden = secrets.find(
      (id) => db.db.prepare("SELECT owner FROM nodes WHERE id = ?").pluck().get(id) !== ME,
    )!;
    grant(hidden, "role:member", true);
    expect(walk(2, s, 3)).toEqual(secrets.filter((id) => id !== hidden));
    expect(general(2, s)).toEqual(secrets.filter((id) => id !== hidden));
    db.db.prepare("DELETE FROM access_grants WHERE deny = 1").run();
    expect(walk(2, s, 3)).toEqual(secrets);
    // Another reader of the same shapes binds its own principal.
    member("user:you", "member");
    node("r999", 2, "user:you");
    const you = scope("user:you");
    expect(walk(2, you, 2)).toEqual(["r999"]);
    expect(walk(2, s, 50)).toEqual(secrets);
  });

  it("reads both arms through indexes in id order, merged without a sort", () => {
    for (let i = 0; i < 40; i++) node(`q${i}`, 2, i % 4 === 0 ? ME : "user:owner");
    grant("q5", ME);
    db.db.exec("ANALYZE");
    const stmt = vi.spyOn(db, "stmt");
    expect(walk(2, scope(), 50)).toEqual([
      "q0",
      "q12",
      "q16",
      "q20",
      "q24",
      "q28",
      "q32",
      "q36",
      "q4",
      "q5",
      "q8",
    ]);
    const sql = stmt.mock.calls.map(([text]) => text).find((text) => text.includes("UNION ALL"));
    stmt.mockRestore();
    // The plan does not depend on the bound values (all are `+?`): bind nulls.
    const unbound = Array.from({ length: sql!.split("?").length - 1 }, () => null);
    const plan = db.db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...unbound)
      .map((r) => (r as { detail: string }).detail);
    expect(plan).toEqual([
      "MERGE (UNION ALL)",
      "LEFT",
      "SEARCH nodes USING COVERING INDEX nodes_by_owner (type_id=? AND owner=?)",
      "RIGHT",
      "SEARCH nodes USING INDEX nodes_by_type (type_id=? AND id=?)",
      "LIST SUBQUERY 2",
      "SCAN json_each VIRTUAL TABLE INDEX 1:",
    ]);
  });

  it("orders ids by code point as SQLite does", () => {
    const ids = ["a", "a\uFF21", "a\u{1F600}", "b"];
    expect([...ids].sort(compareCodePoints)).toEqual(ids);
    expect(firstAfter(ids, "a\uFF21")).toBe(2);
    expect(firstAfter(ids, "")).toBe(0);
    expect(firstAfter(ids, "c")).toBe(4);
  });
});

describe("the granted-id cache sees every access change", () => {
  beforeEach(() => {
    node("x1", 2, "user:owner");
    node("x2", 2, "user:owner");
    node("x3", 2, ME);
  });

  it("a grant, then its revoke", () => {
    expect(walk(2, scope())).toEqual(["x3"]);
    grant("x1", ME);
    expect(walk(2, scope())).toEqual(["x1", "x3"]);
    db.db.prepare("DELETE FROM access_grants WHERE node_id = 'x1' AND principal = ?").run(ME);
    expect(walk(2, scope())).toEqual(["x3"]);
  });

  it("a deny added next to a grant, which does not hide the reader's own node", () => {
    grant("x1", "tenant:*");
    grant("x3", "tenant:*");
    expect(walk(2, scope())).toEqual(["x1", "x3"]);
    grant("x1", ME, true);
    grant("x3", ME, true);
    expect(walk(2, scope())).toEqual(["x3"]);
  });

  it("the tenant's first deny, on a node of a tenant-visible type", () => {
    node("d1", 1, "user:owner");
    node("d2", 1, "user:owner");
    expect(walk(1, scope())).toEqual(["d1", "d2"]);
    grant("d1", "tenant:*", true);
    expect(walk(1, scope())).toEqual(["d2"]);
    expect(reader.getNode("t", 1, "d1", scope())).toBeUndefined();
    db.db.prepare("DELETE FROM access_grants WHERE node_id = 'd1'").run();
    expect(walk(1, scope())).toEqual(["d1", "d2"]);
  });

  it("a grant whose expiry is moved into the past", () => {
    grant("x2", ME, false, NOW + 10n);
    expect(walk(2, scope())).toEqual(["x2", "x3"]);
    db.db.prepare("UPDATE access_grants SET expires_at = ? WHERE node_id = 'x2'").run(NOW);
    expect(walk(2, scope())).toEqual(["x3"]);
  });

  it("a group change", () => {
    db.db.prepare("INSERT INTO access_groups VALUES ('group:eng')").run();
    grant("x2", "group:eng");
    expect(walk(2, scope())).toEqual(["x3"]);
    db.db.prepare("INSERT INTO access_group_members VALUES ('group:eng', ?)").run(ME);
    expect(walk(2, scope())).toEqual(["x2", "x3"]);
    db.db.prepare("DELETE FROM access_group_members WHERE group_id = 'group:eng'").run();
    expect(walk(2, scope())).toEqual(["x3"]);
  });

  it("a role change", () => {
    grant("x1", "role:admin");
    expect(walk(2, scope())).toEqual(["x3"]);
    member(ME, "admin");
    expect(walk(2, scope())).toEqual(["x1", "x3"]);
    member(ME, "viewer");
    expect(walk(2, scope())).toEqual(["x3"]);
  });

  it("a grant on the parent of an inherit_access child", () => {
    node("n1", 3, "user:owner", { 1: "n1", 2: "x1" });
    expect(walk(3, scope())).toEqual([]);
    grant("x1", ME);
    expect(walk(3, scope())).toEqual(["n1"]);
    db.db.prepare("DELETE FROM access_grants WHERE node_id = 'x1'").run();
    expect(walk(3, scope())).toEqual([]);
  });

  it("more principal sets than a tenant keeps, each with its own grants", () => {
    const groups = MAX_GRANT_SETS_PER_TENANT + 40;
    for (let g = 0; g < groups; g++)
      if (g % 3 === 0) grant(g % 2 === 0 ? "x1" : "x2", `group:v${g}`);
    const scopeOf = (g: number) =>
      readScopeOf({ id: ME, groups: [`group:v${g}`] }, readTenantAccess(db), NOW);
    const expected = (g: number) =>
      g % 3 !== 0 ? ["x3"] : g % 2 === 0 ? ["x1", "x3"] : ["x2", "x3"];
    const check = (g: number) => {
      const s = scopeOf(g);
      expect(walk(2, s, 50)).toEqual(expected(g));
      expect(reader.getNode("t", 2, "x1", s) !== undefined).toBe(g % 6 === 0);
    };
    const loaded = (g: number) => {
      const s = scopeOf(g);
      if (s.unrestricted) throw new Error("a member's scope is restricted");
      return loadedGrantsWithoutDenies(db, s.principals);
    };
    for (let g = 0; g < groups; g++) check(g);
    const last = loaded(groups - 1);
    // The sets loaded first were dropped when the tenant reached its most (one point read
    // does not load a set again); the last stay.
    expect(last).toBeDefined();
    expect(loaded(0)).toBeUndefined();
    expect(loaded(groups - 1)).toBe(last);
    for (let g = 0; g < groups; g++) check(g);
  });

  it("point reads load a principal set's grants once they have cost as much, up to a bound", () => {
    const insert = db.db.prepare(
      "INSERT INTO access_grants (node_id, principal, level, deny, expires_at, granted_by, granted_at) VALUES (?, ?, 1, 0, NULL, 'user:owner', 0)",
    );
    // Grant rows on ids that are not nodes count like any other.
    const grantMany = (group: string, n: number) => {
      insert.run("x1", group);
      for (let i = 1; i < n; i++) insert.run(`gone${String(i).padStart(5, "0")}`, group);
    };
    grantMany("group:big", MAX_POINT_READ_GRANTS + 1);
    grantMany("group:most", MAX_POINT_READ_GRANTS);
    const scopeOf = (group: string) => {
      const s = readScopeOf({ id: ME, groups: [group] }, readTenantAccess(db), NOW);
      if (s.unrestricted) throw new Error("a member's scope is restricted");
      return s;
    };
    const [big, most, none] = [scopeOf("group:big"), scopeOf("group:most"), scope()];
    if (none.unrestricted) throw new Error("a member's scope is restricted");
    const stmt = vi.spyOn(db, "stmt");
    const texts = () =>
      stmt.mock.calls.map(([text]) => text).filter((t) => t.includes("json_each"));
    const counts = () => texts().filter((t) => t.includes("count(*)")).length;
    const loads = () => texts().filter((t) => t.includes("GROUP BY")).length;
    const reads = (s: ReadScope, n: number) => {
      for (let i = 0; i < n; i++) {
        expect(reader.getNode("t", 2, "x1", s)?.id).toBe(s === none ? undefined : "x1");
        expect(reader.getNode("t", 2, "x2", s)).toBeUndefined();
      }
    };
    // A set without grants: loaded on its 16th point read, without a count before.
    reads(none, (POINT_READS_BEFORE_LOAD - 2) / 2);
    expect(reader.getNode("t", 2, "x3", none)?.id).toBe("x3");
    expect([counts(), loads()]).toEqual([0, 0]);
    expect(reader.getNode("t", 2, "x2", none)).toBeUndefined();
    expect([counts(), loads()]).toEqual([1, 1]);
    // A set of as many grant rows as the bound: loaded once the reads number half of them.
    reads(most, MAX_POINT_READ_GRANTS / 4 - 1);
    expect(reader.getNode("t", 2, "x1", most)?.id).toBe("x1");
    expect([counts(), loads()]).toEqual([2, 1]);
    expect(reader.getNode("t", 2, "x2", most)).toBeUndefined();
    expect([counts(), loads()]).toEqual([2, 2]);
    // A larger set is counted once and never loaded by point reads.
    reads(big, MAX_POINT_READ_GRANTS);
    expect([counts(), loads()]).toEqual([3, 2]);
    const used = new Set(texts());
    stmt.mockRestore();
    // Counting and loading read the principals' index ranges, never the whole table.
    expect(used.size).toBe(2);
    for (const text of used) {
      const plan = db.db
        .prepare(`EXPLAIN QUERY PLAN ${text}`)
        .all(...Array.from({ length: text.split("?").length - 1 }, () => null))
        .map((r) => (r as { detail: string }).detail);
      expect(plan).toContain(
        "SEARCH access_grants USING COVERING INDEX access_grants_by_principal (principal=? AND deny=?)",
      );
      expect(plan.filter((d) => d.startsWith("SCAN access_grants"))).toEqual([]);
    }
    // A query loads the large set, and point reads decide from it from then on.
    expect(walk(2, big, 50)).toEqual(["x1", "x3"]);
    expect(loadedGrantsWithoutDenies(db, big.principals)?.ids.length).toBe(
      MAX_POINT_READ_GRANTS + 1,
    );
    expect(loadedGrantsWithoutDenies(db, most.principals)?.ids.length).toBe(MAX_POINT_READ_GRANTS);
    expect(loadedGrantsWithoutDenies(db, none.principals)?.ids).toEqual([]);
    // Any access change drops them all, and the reads count again from none.
    grant("x2", "group:elsewhere");
    reads(none, 1);
    expect(loadedGrantsWithoutDenies(db, none.principals)).toBeUndefined();
  });

  it("point reads of many principal sets do not push out the sets that were loaded", () => {
    grant("x1", ME);
    const loadedOf = (s: ReadScope) => {
      if (s.unrestricted) throw new Error("a member's scope is restricted");
      return loadedGrantsWithoutDenies(db, s.principals);
    };
    expect(walk(2, scope())).toEqual(["x1", "x3"]);
    const kept = loadedOf(scope());
    expect(kept?.ids).toEqual(["x1"]);
    // More one-read sets than a tenant loads or counts, each read once: each answers right.
    const readers = Math.max(MAX_GRANT_SETS_PER_TENANT, MAX_COUNTED_SETS_PER_TENANT) + 10;
    for (let g = 0; g < readers; g++) {
      const s = readScopeOf({ id: ME, groups: [`group:once${g}`] }, readTenantAccess(db), NOW);
      expect(reader.getNode("t", 2, "x1", s)?.id).toBe("x1");
      expect(reader.getNode("t", 2, "x2", s)).toBeUndefined();
    }
    expect(loadedOf(scope())).toBe(kept);
  });

  it("a file made without the principal index gains it on open, its dump unchanged", () => {
    grant("x1", ME);
    const before = canonicalDump(db);
    db.db.exec("DROP INDEX access_grants_by_principal");
    store.close();
    store = openStore({ dataDir: dir, schemas: lookupOf(served(1, schema)) });
    db = store.tenant("t", false)!;
    reader = createTenantReader(store);
    const index = db.db
      .prepare("SELECT sql FROM sqlite_master WHERE name = 'access_grants_by_principal'")
      .pluck()
      .get();
    expect(index).toBe(
      "CREATE INDEX access_grants_by_principal ON access_grants(principal, deny, node_id, expires_at)",
    );
    expect(canonicalDump(db)).toBe(before);
    expect(reader.getNode("t", 2, "x1", scope())?.id).toBe("x1");
  });

  it("a grant written by a transaction that was rolled back", () => {
    expect(walk(2, scope())).toEqual(["x3"]);
    db.db.exec("BEGIN");
    grant("x1", ME);
    // Read inside the transaction: the set is used, not kept.
    expect(walk(2, scope())).toEqual(["x1", "x3"]);
    db.db.exec("ROLLBACK");
    expect(walk(2, scope())).toEqual(["x3"]);
  });
});
