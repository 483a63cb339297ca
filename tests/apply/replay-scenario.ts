/**
 * The replay scenario: a deterministic log of plans, access changes and a schema change
 * over three tenants, with failures of every kind, that replay tests apply in different
 * ways and compare by canonical dump.
 */

import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import { SCHEMA_LOG_KEY } from "../../server/apply/applier.ts";
import type { WalRecord } from "../../server/wal/wal.ts";
import { prng } from "../prng.ts";
import {
  accessEvent,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V2,
  v,
} from "../store/store-fixtures.ts";

export const TENANTS = ["acme", "globex", "Initech"];

/**
 * ~400 events (the same ones for the same seed) over three tenants: creates, updates, deletes, edges, unique clashes,
 * missing refs, stale preconditions, retried keys, create-if-absent, an undecodable
 * payload, and a schema change to v2 half-way. Access is enforced: each tenant is
 * created by a server administrator with user:0 as owner, user:1 a member through a
 * group and user:2 a viewer (whose writes are denied), and user:3 is added and removed
 * again and again, so whether its plans pass depends on the log's order.
 */
export function scenario(seed = 42): WalRecord[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const records: WalRecord[] = [];
  const state = new Map(
    TENANTS.map((t) => [
      t,
      {
        users: [] as string[],
        teams: [] as string[],
        projects: [] as string[],
        tasks: [] as string[],
        keys: [] as string[],
      },
    ]),
  );
  let counter = 0;
  let version = 1;
  const admin = { actor: "user:root", actorAdmin: true, openAccess: false };
  const owner = { actor: "user:0", openAccess: false };
  for (const tenant of TENANTS) {
    const access = (key: string, change: Parameters<typeof accessEvent>[2], by = owner) =>
      records.push({ tenant, payload: accessEvent(tenant, key, change, by) });
    access("create", { case: "createTenantOwner", value: "user:0" }, admin);
    access("group", { case: "createGroup", value: "group:devs" });
    access("in-group", {
      case: "addGroupMember",
      value: { group: "group:devs", principal: "user:1" },
    });
    access("devs", { case: "addMember", value: { principal: "group:devs", role: "member" } });
    access("viewer", { case: "addMember", value: { principal: "user:2", role: "viewer" } });
    // Refused: a viewer may not manage members; the refusal is recorded like any other.
    access(
      "by-viewer",
      { case: "addMember", value: { principal: "user:2", role: "owner" } },
      {
        actor: "user:2",
        openAccess: false,
      },
    );
  }
  let toggles = 0;
  for (let step = 0; step < 400; step++) {
    if (step % 50 === 25) {
      // The tenant's first task shared with group:devs for a while (expiry is judged
      // against each event's ingress time, so replay decides the same).
      const tenant = TENANTS[((step / 50) % TENANTS.length) | 0]!;
      const task = state.get(tenant)!.tasks[0];
      if (task !== undefined)
        records.push({
          tenant,
          payload: accessEvent(
            tenant,
            `share-${step}`,
            {
              case: "share",
              value: {
                nodeId: task,
                principal: "group:devs",
                capability: "delete",
                expiresAt: timestampFromMs(T0_MS + (step + 60) * 7),
              },
            },
            owner,
          ),
        });
    }
    if (step % 37 === 5) {
      const tenant = TENANTS[step % TENANTS.length]!;
      const change: Parameters<typeof accessEvent>[2] =
        toggles++ % 2 === 0
          ? { case: "addMember", value: { principal: "user:3", role: "member" } }
          : { case: "removeMember", value: "user:3" };
      records.push({ tenant, payload: accessEvent(tenant, `toggle-${step}`, change, owner) });
    }
    if (step === 200) {
      records.push({
        tenant: SCHEMA_LOG_KEY,
        payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(2, TRACKER_V2)),
      });
      version = 2;
    }
    const tenant = pick(TENANTS)!;
    const s = state.get(tenant)!;
    if (step === 123) {
      records.push({ tenant, payload: new Uint8Array([1, 2, 3, 0xff]) });
      continue;
    }
    const id = () => `${tenant.toLowerCase()}-n${++counter}`;
    const n = () => Math.floor(rnd() * 30);
    const ops: Operation[] = [];
    const roll = rnd();
    if (roll < 0.1 || s.users.length === 0) {
      const u = id();
      s.users.push(u);
      const k = n();
      ops.push(
        op.createNode(
          T.User,
          u,
          { 1: v.str(`u${k}@x`), 2: v.str(`User ${k}`), 3: v.str(`h${u}`), 6: v.ts(T0_MS + k) },
          rnd() < 0.3 ? [1] : [],
        ),
      );
    } else if (roll < 0.18 || s.teams.length === 0) {
      const t = id();
      s.teams.push(t);
      ops.push(op.createNode(T.Team, t, { 1: v.str(`Team ${t}`), 2: v.str(`slug-${n() % 10}`) }));
      ops.push(
        op.createEdge(T.MemberOf, pick(s.users)!, t, { 1: v.enum(1 + (n() % 3)), 2: v.ts(T0_MS) }),
      );
    } else if (roll < 0.26 || s.projects.length === 0) {
      const p = id();
      s.projects.push(p);
      ops.push(
        op.createNode(T.Project, p, {
          1: v.ref(rnd() < 0.1 ? "ghost" : pick(s.teams)!),
          2: v.str(`K${n() % 5}`),
          3: v.str("P"),
        }),
      );
    } else if (roll < 0.55) {
      const t = id();
      s.tasks.push(t);
      const fields = {
        1: v.ref(pick(s.projects)!),
        2: v.int(BigInt(n()) * 2n ** 58n + 1n),
        3: v.str(`Task ${t} ${rnd() < 0.5 ? "chart" : "bug"}`),
        5: v.enum(1 + (n() % 5)),
        8: v.int(-(2n ** 63n) + BigInt(n())),
        9: v.list(v.str("a"), v.str(`l${n() % 3}`)),
        10: v.float(rnd()),
      };
      ops.push(op.createNode(T.Task, t, fields));
      if (rnd() < 0.5)
        ops.push(
          op.createEdge(T.AssignedTo, t, pick(s.users)!, {
            1: v.ts(T0_MS + step),
            2: v.int(BigInt(n())),
          }),
        );
    } else if (roll < 0.7) {
      const t = pick(s.tasks) ?? "none";
      ops.push(
        op.updateNode(
          T.Task,
          t,
          { 4: v.str(`body ${step}`), 7: v.ts(T0_MS + step * 1000) },
          rnd() < 0.3 ? { precondition: { version: BigInt(1 + (n() % 3)) } } : { clear: [9] },
        ),
      );
    } else if (roll < 0.78) {
      ops.push(op.deleteNode(T.Task, pick(s.tasks) ?? "none"));
    } else if (roll < 0.9) {
      // Edges from the first few tasks, so unique_per_from clashes happen.
      const a = s.tasks[Math.floor(rnd() * Math.min(3, s.tasks.length))] ?? "x";
      const b = pick(s.tasks) ?? "y";
      ops.push(
        rnd() < 0.5
          ? op.createEdge(T.SubtaskOf, a, b)
          : op.createEdge(T.BlockedBy, a, b, { 1: v.str(`n${step}`) }),
      );
      if (rnd() < 0.3) ops.push(op.deleteEdge(T.BlockedBy, b, a));
    } else if (roll < 0.95 && version === 2) {
      const task = pick(s.tasks) ?? "none";
      ops.push(
        op.createNode(T.Comment, id(), {
          1: v.ref(task),
          2: v.ref(pick(s.users)!),
          3: v.str("c"),
          4: v.ts(T0_MS),
          7: v.str(`summary ${step}`),
        }),
      );
    } else if (s.keys.length > 0) {
      // A retry: the original key with different operations; the first outcome stands.
      records.push({
        tenant,
        payload: planEvent(tenant, pick(s.keys)!, [op.deleteNode(T.User, pick(s.users)!)], {
          schemaVersion: version,
        }),
      });
      continue;
    }
    if (ops.length === 0) continue;
    const key = `key-${step}`;
    s.keys.push(key);
    const plan = (k: string, actor: string) =>
      records.push({
        tenant,
        payload: planEvent(tenant, k, ops, {
          schemaVersion: version,
          atMs: T0_MS + step * 7,
          actor,
          openAccess: false,
        }),
      });
    plan(key, "user:0");
    // The same plan again by the viewer (always denied) or by user:3 (denied unless it
    // is a member at that point of the log).
    // user:1 (a member through group:devs) may create, but edits only what it was shared.
    if (step % 10 === 3)
      plan(`again-${step}`, step % 30 === 3 ? "user:2" : step % 30 === 13 ? "user:3" : "user:1");
  }
  return records;
}

/** The tenants of {@link laterTenants}. */
export const LATER_TENANTS = ["late", "late-rejected", "bad-first", "named-other", "only-bad"];

/**
 * Records to append to a {@link scenario}: tenants whose first entry is at v2 (one a unique clash, one rejected), or bad (an
 * undecodable payload, an event naming another tenant), then plans at v1 and v2.
 */
export function laterTenants(): WalRecord[] {
  const v2 = { schemaVersion: 2, atMs: T0_MS };
  const user = (id: string) =>
    op.createNode(T.User, id, {
      1: v.str(`${id}@x`),
      2: v.str(`User ${id}`),
      3: v.str(`h${id}`),
      6: v.ts(T0_MS),
    });
  const team = (id: string, slug: string) =>
    op.createNode(T.Team, id, { 1: v.str(`Team ${id}`), 2: v.str(slug) });
  return [
    {
      tenant: "late",
      payload: planEvent("late", "k1", [user("late-u1"), team("late-t1", "s")], v2),
    },
    { tenant: "late", payload: planEvent("late", "k2", [team("late-t2", "s")], v2) },
    { tenant: "late", payload: planEvent("late", "k3", [team("late-t3", "t")], v2) },
    {
      tenant: "late-rejected",
      payload: planEvent(
        "late-rejected",
        "k1",
        [op.createNode(T.Project, "p1", { 1: v.ref("ghost"), 2: v.str("K"), 3: v.str("P") })],
        v2,
      ),
    },
    {
      tenant: "late-rejected",
      payload: planEvent("late-rejected", "k2", [team("lr-t1", "s")], v2),
    },
    { tenant: "bad-first", payload: new Uint8Array([1, 2, 3, 0xff]) },
    { tenant: "bad-first", payload: planEvent("bad-first", "k1", [team("bf-t1", "s")]) },
    { tenant: "bad-first", payload: planEvent("bad-first", "k2", [team("bf-t2", "u")], v2) },
    { tenant: "named-other", payload: planEvent("acme", "k0", [team("no-t0", "s")], v2) },
    { tenant: "named-other", payload: planEvent("named-other", "k1", [team("no-t1", "s")]) },
    { tenant: "only-bad", payload: new Uint8Array([9, 9, 9]) },
  ];
}
