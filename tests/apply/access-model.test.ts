/**
 * A randomized model test of access control: random members, roles, groups, grants,
 * denies with and without expiry, nodes of a private and a tenant-visible type, updates
 * and deletes by random actors, all applied by the real applier into a real tenant
 * database; then every member's reads of every kind (point reads, key reads, paged
 * queries, edge listings with counts) through the real store reader with the scope the
 * API computes, compared with an in-memory reference model of docs/access-control.md.
 * Users that are not members read too, with the public-only scope the API gives them.
 * Every write's recorded outcome is compared with the model's decision too.
 */

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { Direction } from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { readScopeOf } from "../../server/acl/read-scope.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { readsDeletedNode } from "../../server/store/node-tombstones.ts";
import type { WalRecord } from "../../server/wal/wal.ts";
import { prng } from "../prng.ts";
import { accessEvent, compile, op, planEvent, served, T0_MS, v } from "../store/store-fixtures.ts";
import { type Harness, openHarness } from "./apply-harness.ts";

const MODEL_SCHEMA = compile(`package acme.model;

node Doc = 1 {
  title: string = 1 [required, unique];
}

node Secret = 2 [visibility = private] {
  title: string = 1 [required, unique];
}

/// Read as the Secret it answers.
node Reply = 3 {
  title: string = 1 [required, unique];
  on: ref<Secret> = 2 [inherit_access];
}

/// Private, and also read as the Reply it annotates.
node Aside = 4 [visibility = private] {
  title: string = 1 [required, unique];
  on: ref<Reply> = 2 [inherit_access];
}

/// Public: read by non-members too.
node Notice = 5 [visibility = public] {
  title: string = 1 [required, unique];
}

/// Public, and read as the Reply it is pinned to.
node Pin = 6 [visibility = public] {
  title: string = 1 [required, unique];
  on: ref<Reply> = 2 [inherit_access];
}

edge Cites = 100 from Doc to Secret;
`);
const DOC = 1;
const SECRET = 2;
const REPLY = 3;
const ASIDE = 4;
const NOTICE = 5;
const PIN = 6;
/** The type each inheriting type's parent has. */
const PARENT_TYPE: Readonly<Record<number, number>> = {
  [REPLY]: SECRET,
  [ASIDE]: REPLY,
  [PIN]: REPLY,
};
/** The types a non-member may read (`public`). */
const PUBLIC_TYPES: ReadonlySet<number> = new Set([NOTICE, PIN]);
const MAX_DEPTH = 3;
const CITES = 100;
const TENANT = "model";

const USERS = ["user:u0", "user:u1", "user:u2", "user:u3", "user:u4", "user:u5"];
const GROUPS = ["group:g0", "group:g1"];
const ROLES = ["viewer", "member", "admin"] as const;
const CAPS = ["read", "comment", "edit", "delete", "admin"] as const;
const RANK = { viewer: 0, member: 1, admin: 2, owner: 3 } as const;
type Role = keyof typeof RANK;

interface Grant {
  readonly level: number;
  readonly deny: boolean;
  /** Microseconds; undefined = never. */
  readonly expires: bigint | undefined;
}

interface ModelNode {
  readonly id: string;
  readonly type: number;
  readonly owner: string;
  readonly title: string;
  /** The node an inherit_access ref names, if set. */
  readonly parent?: string;
}

/** The reference model: the rules of docs/access-control.md, written plainly. */
class Model {
  readonly members = new Map<string, Role>([["user:u0", "owner"]]);
  readonly groups = new Map<string, Set<string>>();
  readonly nodes = new Map<string, ModelNode>();
  /** Deleted nodes as they were (their grants stay in `grants`). */
  readonly deleted = new Map<string, ModelNode>();
  readonly grants = new Map<string, Map<string, Grant>>();
  readonly edges: { from: string; to: string }[] = [];

  role(user: string): Role | undefined {
    let best = this.members.get(user);
    for (const [group, members] of this.groups) {
      if (!members.has(user)) continue;
      const r = this.members.get(group);
      if (r !== undefined && (best === undefined || RANK[r] > RANK[best])) best = r;
    }
    return best;
  }

  principals(user: string): string[] {
    const out = [user];
    for (const [group, members] of this.groups) if (members.has(user)) out.push(group);
    const role = this.role(user);
    if (role !== undefined) out.push(`role:${role}`, "tenant:*");
    return out;
  }

  /**
   * The capability level of `user` on a node at `now`; undefined for a missing node.
   * `publicOnly` (a non-member's read): a node of a type that is not public is unreadable.
   */
  level(
    user: string,
    id: string,
    now: bigint,
    depth = MAX_DEPTH,
    publicOnly = false,
  ): number | undefined {
    const node = this.nodes.get(id);
    if (!node) return undefined;
    if (publicOnly && !PUBLIC_TYPES.has(node.type)) return 0;
    if (node.owner === user) return 5;
    let granted = 0;
    const rows = this.grants.get(id) ?? new Map<string, Grant>();
    for (const p of this.principals(user)) {
      const g = rows.get(p);
      if (!g || (g.expires !== undefined && g.expires <= now)) continue;
      if (g.deny) return 0;
      granted = Math.max(granted, g.level);
    }
    // Visibility: Docs and Replies are tenant types, Notices and Pins public, Secrets and
    // Asides private; an inheriting node with its ref set is read as that node (a gone one
    // is unreadable).
    let readable = node.type !== SECRET && node.type !== ASIDE;
    if (node.parent !== undefined)
      readable = depth > 0 && (this.level(user, node.parent, now, depth - 1, publicOnly) ?? 0) >= 1;
    return Math.max(granted, readable ? 1 : 0);
  }

  /** The level `user` would have on a deleted node had it not been deleted (parents as they are now). */
  deletedLevel(user: string, node: ModelNode, now: bigint, publicOnly: boolean): number {
    this.nodes.set(node.id, node);
    try {
      return this.level(user, node.id, now, MAX_DEPTH, publicOnly) ?? 0;
    } finally {
      this.nodes.delete(node.id);
    }
  }

  canManage(user: string): boolean {
    const r = this.role(user);
    return r === "admin" || r === "owner";
  }
}

function micros(ms: number): bigint {
  return BigInt(ms) * 1000n;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** What the scenarios exercised, so a test can check they are not trivial. */
const seenOutcomes = new Map<string, number>();
let hiddenReads = 0;
let deletedSeen = 0;
let deletedHidden = 0;
/** How many users read as non-members, and how many public nodes they saw. */
let outsiderReads = 0;
let outsiderSeen = 0;

/** Runs one random scenario; returns how many reads were compared. */
function scenario(seed: number): number {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const h = openHarness({ schemas: [served(1, MODEL_SCHEMA)] });
  harness = h;
  const model = new Model();
  const expected = new Map<string, string>();
  let step = 0;
  let counter = 0;
  const nowMs = () => T0_MS + step * 1000;
  const run = (record: WalRecord, key: string, outcome: string) => {
    h.run([record]);
    expected.set(key, outcome);
  };
  const by = (actor: string, admin = false) => ({
    actor,
    actorAdmin: admin,
    openAccess: false,
    atMs: nowMs(),
  });

  run(
    {
      tenant: TENANT,
      payload: accessEvent(
        TENANT,
        "create",
        { case: "createTenantOwner", value: "user:u0" },
        by("user:root", true),
      ),
    },
    "create",
    "ok",
  );

  for (step = 1; step <= 160; step++) {
    const key = `k${step}`;
    const actor = rnd() < 0.3 ? "user:u0" : pick(USERS);
    const now = micros(nowMs());
    const roll = rnd();
    const nodeIds = [...model.nodes.keys()];
    if (roll < 0.12) {
      // Membership: add, change or remove a user or group (never the owner u0).
      const target = pick([...USERS.slice(1), ...GROUPS]);
      const kind = pick(["add", "set", "remove"] as const);
      const role = pick(ROLES);
      const member = model.members.get(target);
      let outcome = "ok";
      if (!model.canManage(actor)) outcome = "permission_denied";
      else if (kind === "add" && member !== undefined) outcome = "already_exists";
      else if (kind !== "add" && member === undefined) outcome = "not_found";
      if (outcome === "ok") {
        if (kind === "remove") model.members.delete(target);
        else model.members.set(target, role);
      }
      const change =
        kind === "add"
          ? ({ case: "addMember", value: { principal: target, role } } as const)
          : kind === "set"
            ? ({ case: "setMemberRole", value: { principal: target, role } } as const)
            : ({ case: "removeMember", value: target } as const);
      run({ tenant: TENANT, payload: accessEvent(TENANT, key, change, by(actor)) }, key, outcome);
    } else if (roll < 0.22) {
      // Groups: create one, add or remove a user.
      const group = pick(GROUPS);
      const user = pick(USERS);
      const kind = pick(["create", "add", "remove"] as const);
      const members = model.groups.get(group);
      let outcome = "ok";
      if (!model.canManage(actor)) outcome = "permission_denied";
      else if (kind === "create") outcome = members ? "already_exists" : "ok";
      else if (!members) outcome = "not_found";
      else if (kind === "add" && members.has(user)) outcome = "already_exists";
      else if (kind === "remove" && !members.has(user)) outcome = "not_found";
      if (outcome === "ok") {
        if (kind === "create") model.groups.set(group, new Set());
        else if (kind === "add") members!.add(user);
        else members!.delete(user);
      }
      const change =
        kind === "create"
          ? ({ case: "createGroup", value: group } as const)
          : kind === "add"
            ? ({ case: "addGroupMember", value: { group, principal: user } } as const)
            : ({ case: "removeGroupMember", value: { group, principal: user } } as const);
      run({ tenant: TENANT, payload: accessEvent(TENANT, key, change, by(actor)) }, key, outcome);
    } else if (roll < 0.5 || nodeIds.length === 0) {
      // A node of any type, sometimes cited by a Doc in the same plan; a Reply or an
      // Aside names a parent (at times one that was deleted, or none).
      const type = pick([SECRET, SECRET, DOC, REPLY, ASIDE, NOTICE, PIN]);
      const id = `n${++counter}`;
      const title = `t${counter}`;
      const role = model.role(actor);
      const writes = role !== undefined && role !== "viewer";
      const candidates = [...model.nodes.values()].filter((n) => n.type === PARENT_TYPE[type]);
      const parent =
        PARENT_TYPE[type] !== undefined && candidates.length > 0 && rnd() < 0.8
          ? pick(candidates).id
          : undefined;
      const ops = [
        op.createNode(type, id, {
          1: v.str(title),
          ...(parent === undefined ? {} : { 2: v.ref(parent) }),
        }),
      ];
      const docs = [...model.nodes.values()].filter((n) => n.type === DOC);
      const citer = type === SECRET && docs.length > 0 && rnd() < 0.5 ? pick(docs) : undefined;
      if (citer) ops.push(op.createEdge(CITES, citer.id, id));
      let outcome = writes ? "ok" : "permission_denied";
      // Citing needs edit on the Doc.
      if (writes && citer && (model.level(actor, citer.id, now) ?? 0) < 3) {
        outcome =
          (model.level(actor, citer.id, now) ?? 0) === 0
            ? "failed_precondition"
            : "permission_denied";
      }
      if (outcome === "ok") {
        model.nodes.set(id, { id, type, owner: actor, title, ...(parent ? { parent } : {}) });
        if (citer) model.edges.push({ from: citer.id, to: id });
      }
      run({ tenant: TENANT, payload: planEvent(TENANT, key, ops, by(actor)) }, key, outcome);
    } else if (roll < 0.8) {
      // Share or deny, sometimes expiring soon.
      const id = pick(nodeIds);
      const principal = pick([...USERS, ...GROUPS, "role:member", "role:viewer", "tenant:*"]);
      const deny = rnd() < 0.2;
      const cap = pick(CAPS);
      const expiresMs = rnd() < 0.4 ? nowMs() + Math.floor(rnd() * 20) * 1000 : undefined;
      const level = model.level(actor, id, now);
      let outcome = "ok";
      if (level === undefined || level === 0) outcome = "not_found";
      else if (level < 5) outcome = "permission_denied";
      if (outcome === "ok") {
        const rows = model.grants.get(id) ?? new Map<string, Grant>();
        rows.set(principal, {
          level: deny ? 0 : CAPS.indexOf(cap) + 1,
          deny,
          expires: expiresMs === undefined ? undefined : micros(expiresMs),
        });
        model.grants.set(id, rows);
      }
      run(
        {
          tenant: TENANT,
          payload: accessEvent(
            TENANT,
            key,
            {
              case: "share",
              value: {
                nodeId: id,
                principal,
                capability: deny ? "" : cap,
                deny,
                ...(expiresMs === undefined ? {} : { expiresAt: timestampFromMs(expiresMs) }),
              },
            },
            by(actor),
          ),
        },
        key,
        outcome,
      );
    } else {
      // Update (needs edit) or delete (needs delete) by someone.
      const id = pick(nodeIds);
      const node = model.nodes.get(id);
      const del = rnd() < 0.25;
      const role = model.role(actor);
      const level = model.level(actor, id, now);
      let outcome = "ok";
      if (role === undefined || role === "viewer") outcome = "permission_denied";
      else if (level === undefined || level === 0) outcome = "not_found";
      else if (level < (del ? 4 : 3)) outcome = "permission_denied";
      if (outcome === "ok" && del && node) {
        model.nodes.delete(id);
        model.deleted.set(id, node);
        for (let i = model.edges.length - 1; i >= 0; i--)
          if (model.edges[i]!.from === id || model.edges[i]!.to === id) model.edges.splice(i, 1);
      }
      const type = node?.type ?? SECRET;
      const ops = del
        ? [op.deleteNode(type, id)]
        : [op.updateNode(type, id, { 1: v.str(`${node?.title ?? "x"}-${step}`) })];
      if (outcome === "ok" && !del && node)
        model.nodes.set(id, { ...node, title: `${node.title}-${step}` });
      run({ tenant: TENANT, payload: planEvent(TENANT, key, ops, by(actor)) }, key, outcome);
    }
  }

  // Every write was decided as the model decides.
  const got = new Map(
    [...expected.keys()].map((k) => [k, h.reader.outcomeByKey(TENANT, k)?.failure?.code ?? "ok"]),
  );
  expect(got).toEqual(expected);
  for (const o of expected.values()) seenOutcomes.set(o, (seenOutcomes.get(o) ?? 0) + 1);

  // Every user reads what the model says, at a time when some grants have expired; a
  // user that is not a member with the public-only scope.
  const readMs = T0_MS + 150 * 1000;
  const readNow = micros(readMs);
  const db = h.store.tenant(TENANT, false)!;
  const access = readTenantAccess(db);
  let reads = 0;
  for (const user of USERS) {
    const outsider = model.role(user) === undefined;
    const scope = readScopeOf({ id: user, groups: [] }, access, readNow);
    expect([user, scope.unrestricted || scope.publicOnly === true]).toEqual([user, outsider]);
    const visible = (id: string) => (model.level(user, id, readNow, MAX_DEPTH, outsider) ?? 0) >= 1;
    if (outsider) outsiderReads++;
    for (const node of model.nodes.values()) {
      const seen = h.reader.getNode(TENANT, node.type, node.id, scope)?.id;
      expect([user, node.id, seen === node.id]).toEqual([user, node.id, visible(node.id)]);
      if (!visible(node.id)) hiddenReads++;
      else if (outsider) outsiderSeen++;
      const byKey = h.reader.getNodeByKey(
        TENANT,
        node.type,
        new Map([[1, create(ValueSchema, { kind: { case: "stringValue", value: node.title } })]]),
        scope,
      );
      expect([user, node.id, byKey?.id === node.id]).toEqual([user, node.id, visible(node.id)]);
      reads += 2;
    }
    // A deleted node's tombstone answers as the node would, had it not been deleted.
    for (const node of model.deleted.values()) {
      const would = model.deletedLevel(user, node, readNow, outsider) >= 1;
      const told = readsDeletedNode(h.store, TENANT, node.type, node.id, scope);
      expect([user, node.id, told]).toEqual([user, node.id, would]);
      if (would) deletedSeen++;
      else deletedHidden++;
      reads++;
    }
    for (const type of [DOC, SECRET, REPLY, ASIDE, NOTICE, PIN]) {
      const want = [...model.nodes.values()]
        .filter((n) => n.type === type && visible(n.id))
        .map((n) => n.id)
        .sort();
      const seen: string[] = [];
      let cursor = "";
      do {
        const page = h.reader.queryNodes(TENANT, type, { filters: [], limit: 3, cursor }, scope);
        // Pages are full until the last one.
        if (page.nextCursor !== "") expect(page.items).toHaveLength(3);
        seen.push(...page.items.map((n) => n.id));
        cursor = page.nextCursor;
        reads++;
      } while (cursor !== "");
      expect([user, type, seen]).toEqual([user, type, want]);
    }
    for (const doc of [...model.nodes.values()].filter((n) => n.type === DOC)) {
      const want = visible(doc.id)
        ? model.edges
            .filter((e) => e.from === doc.id && visible(e.to))
            .map((e) => e.to)
            .sort()
        : [];
      const listed = h.reader.listEdges(
        TENANT,
        CITES,
        doc.id,
        { direction: Direction.OUT, limit: 1000, cursor: "", includeCount: true },
        scope,
      );
      expect([user, doc.id, listed.items.map((e) => e.toId), listed.totalCount]).toEqual([
        user,
        doc.id,
        want,
        want.length,
      ]);
      reads++;
    }
  }
  return reads;
}

describe("access control against a reference model", () => {
  it("decides every write and answers every read as the model does, over many random scenarios", async () => {
    let reads = 0;
    for (let seed = 1; seed <= 30; seed++) {
      reads += scenario(seed);
      await harness?.close();
      harness = undefined;
    }
    // Thousands of compared reads, so the scenarios exercise what they should.
    expect(reads).toBeGreaterThan(3_000);
    expect(hiddenReads).toBeGreaterThan(300);
    expect([deletedSeen > 20, deletedHidden > 20]).toEqual([true, true]);
    expect(outsiderReads).toBeGreaterThan(20);
    expect(outsiderSeen).toBeGreaterThan(50);
    for (const o of ["ok", "permission_denied", "not_found", "already_exists"])
      expect([o, (seenOutcomes.get(o) ?? 0) > 10]).toEqual([o, true]);
  }, 120_000);
});
