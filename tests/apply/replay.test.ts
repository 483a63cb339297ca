/**
 * DESIGN.md contract 8: the derived state is disposable. Replaying the log into an
 * empty data dir gives every tenant database the same canonical dump, byte for byte,
 * whatever the batch sizes, the LRU pressure or the log file the entries come from.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import { Applier, SCHEMA_LOG_KEY } from "../../server/apply/applier.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import type { Wal, WalRecord } from "../../server/wal/wal.ts";
import {
  accessEvent,
  lookupOf,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const TENANTS = ["acme", "globex", "Initech"];

/** A small deterministic PRNG (mulberry32), so the scenario is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * ~400 events over three tenants: creates, updates, deletes, edges, unique clashes,
 * missing refs, stale preconditions, retried keys, create-if-absent, an undecodable
 * payload, and a schema change to v2 half-way. Access is enforced: each tenant is
 * created by a server administrator with user:0 as owner, user:1 a member through a
 * group and user:2 a viewer (whose writes are denied), and user:3 is added and removed
 * again and again, so whether its plans pass depends on the log's order.
 */
function scenario(): WalRecord[] {
  const rnd = prng(42);
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

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Applies everything in `wal` into `dataDir` and returns each tenant's dump. */
async function materialize(
  wal: Wal,
  dataDir: string,
  options: { maxBatch: number; maxOpenTenants: number },
): Promise<string[]> {
  // The server registers a version before logging events under it, so it serves both.
  const schemas = lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2));
  const store = openStore({ dataDir, schemas, maxOpenTenants: options.maxOpenTenants });
  const applier = new Applier({ wal, store, maxBatch: options.maxBatch });
  applier.start();
  for (let i = 0; i < 5_000 && !(await applier.caughtUp()); i++)
    await new Promise((r) => setTimeout(r, 2));
  await applier.stop();
  expect(applier.parkedTenants().map((p) => p.error.message)).toEqual([]);
  store.close();
  return TENANTS.map((t) => canonicalDump(store.tenantPath(t)));
}

function dir(label: string): string {
  const d = tempDir(label);
  cleanups.push(() => d.remove());
  return d.path;
}

/** A fresh two-partition embedded log in a temp dir, closed after the test. */
async function openWal(label: string): Promise<EmbeddedWal> {
  const path = join(dir(label), "wal.sqlite");
  const wal = await openEmbeddedWal({ path, partitions: 2, writer: "inline" });
  cleanups.push(() => wal.close());
  return wal;
}

describe("replaying the log", () => {
  it("gives byte-identical tenant databases for any batch size, LRU pressure or copy of the log", async () => {
    const embedded = await openWal("replay-wal");
    await embedded.append(scenario());
    // A second log file holding every event at the same position: one append per
    // partition, whose records the first log already grouped by tenant.
    const copy = await openWal("replay-copy");
    for (const entries of await readWalToEnd(embedded)) {
      expect((await copy.append(entries)).map((p) => p.offset)).toEqual(
        entries.map((e) => e.position.offset),
      );
    }
    expect([await copy.endOffset(0), await copy.endOffset(1)]).toEqual([
      await embedded.endOffset(0),
      await embedded.endOffset(1),
    ]);

    const reference = await materialize(copy, dir("replay-a"), {
      maxBatch: 7,
      maxOpenTenants: 256,
    });
    // The scenario exercises what it should: failures of every kind, retries, both schema versions.
    const all = reference.join("\n");
    for (const needle of [
      "UNIQUE_VIOLATION",
      "MISSING_REF",
      "NOT_FOUND",
      "PRECONDITION_FAILED",
      "UNIQUE_PER_FROM",
      "summary",
      "ix_n4_f8",
      "PERMISSION_DENIED",
      "'user:2' is a viewer of tenant",
      "'user:3' is not a member of tenant",
      '"group:devs" | "member"',
      "lacks the edit capability",
      '"group:devs" | 4 | 0 |',
    ]) {
      expect(all).toContain(needle);
    }
    expect(all).toContain("-9223372036854775");
    // Deletions left tombstones, replayed like every other row.
    expect(all).toMatch(
      /rows node_tombstones \(id, type_id, owner, payload, deleted_at\)\n"[^"\n]+" \| \d+ \| "/,
    );
    expect(reference.every((d) => d.includes("rows nodes") && d.split("\n").length > 100)).toBe(
      true,
    );

    expect(await materialize(copy, dir("replay-b"), { maxBatch: 1, maxOpenTenants: 256 })).toEqual(
      reference,
    );
    expect(await materialize(copy, dir("replay-c"), { maxBatch: 500, maxOpenTenants: 1 })).toEqual(
      reference,
    );

    const fromEmbedded = await materialize(embedded, dir("replay-d"), {
      maxBatch: 64,
      maxOpenTenants: 2,
    });
    expect(fromEmbedded).toEqual(reference);
  });

  it("rebuilds a deleted tenant database, and the meta database, from the log", async () => {
    const wal = await openWal("rebuild-wal");
    await wal.append(scenario());
    const dataDir = dir("rebuild");
    const reference = await materialize(wal, dataDir, { maxBatch: 32, maxOpenTenants: 256 });
    const store = openStore({ dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
    const path = store.tenantPath("globex");
    store.close();
    rmSync(path);
    for (const f of ["meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm"])
      rmSync(join(dataDir, f), { force: true });
    expect(await materialize(wal, dataDir, { maxBatch: 32, maxOpenTenants: 256 })).toEqual(
      reference,
    );
  });
});
