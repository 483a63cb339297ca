import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Applier, SCHEMA_LOG_KEY } from "../../server/apply/applier.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalPosition, WalRecord } from "../../server/wal/wal.ts";
import {
  lookupOf,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const team = (n: number) =>
  op.createNode(T.Team, `t${n}`, { 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) });
const teamEvent = (tenant: string, n: number) => ({
  tenant,
  payload: planEvent(tenant, `k${n}`, [team(n)]),
});

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh embedded log in a temp dir; closed, and the dir removed, after the test. */
async function openWal(partitions: number): Promise<EmbeddedWal> {
  const dir = tempDir("run-wal");
  cleanups.push(() => dir.remove());
  return reopenWal(join(dir.path, "wal.sqlite"), partitions);
}

/** Opens the log at `path` (again), closed after the test. */
async function reopenWal(path: string, partitions: number): Promise<EmbeddedWal> {
  const wal = await openEmbeddedWal({ path, partitions, writer: "inline" });
  cleanups.push(() => wal.close());
  return wal;
}

/**
 * Appends each record in its own call, so that the log assigns offsets in the order
 * given (one call groups its records by tenant); resolves once all are durable.
 */
async function appendInOrder(wal: EmbeddedWal, records: WalRecord[]): Promise<WalPosition[]> {
  const positions = await Promise.all(records.map((record) => wal.append([record])));
  return positions.map(([position]) => position!);
}

/** A data dir, a store over it and an applier on `wal`, closed after the test. */
function openNode(
  wal: EmbeddedWal,
  options: {
    dataDir?: string;
    checkpointIntervalMs?: number;
    schemas?: ReturnType<typeof served>[];
  } = {},
) {
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    const dir = tempDir("run");
    cleanups.push(() => dir.remove());
    dataDir = dir.path;
  }
  const store = openStore({
    dataDir,
    schemas: lookupOf(...(options.schemas ?? [served(1, TRACKER_V1)])),
  });
  const applier = new Applier({
    wal,
    store,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 0,
    maxBatch: 3,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await applier.stop();
    store.close();
  };
  /**
   * Ends delivery and closes the files without the applier's final checkpoint: closing
   * the log ends the subscription behind the applier's back. Reopen the log to go on.
   */
  const crash = async () => {
    stopped = true;
    await wal.close();
    store.close();
  };
  cleanups.push(stop);
  applier.start();
  return { dataDir, store, applier, reader: createTenantReader(store), stop, crash };
}

/** Waits until the applier has processed everything in the log. */
async function settle(applier: Applier): Promise<void> {
  for (let i = 0; i < 1_000 && !(await applier.caughtUp()); i++)
    await new Promise((r) => setTimeout(r, 2));
  expect(await applier.caughtUp()).toBe(true);
}

function dumps(store: Store, tenants: string[]): string[] {
  return tenants.map((t) => canonicalDump(store.tenantPath(t)));
}

describe("following the log", () => {
  it("wakes a waiter when its position is applied, and times out otherwise", async () => {
    const wal = await openWal(2);
    const { applier, reader } = openNode(wal);
    const target: WalPosition = { partition: wal.partitionFor("acme"), offset: 0 };
    const waiting = applier.waitFor("acme", target, 5_000);
    const started = Date.now();
    const appended = wal.append([teamEvent("acme", 1)]);
    expect(await waiting).toBe(true);
    expect(await appended).toEqual([target]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(reader.getNode("acme", T.Team, "t1")?.id).toBe("t1");
    expect(await applier.waitFor("acme", target, 0)).toBe(true);
    expect(await applier.waitFor("acme", { ...target, offset: 5 }, 20)).toBe(false);
    await settle(applier);
  });

  it("rejects waits for invalid tenant ids", async () => {
    const { applier } = openNode(await openWal(1));
    await expect(applier.waitFor("../x", { partition: 0, offset: 0 }, 10)).rejects.toMatchObject({
      code: "invalid-tenant",
    });
  });

  it("resumes from the stored checkpoint after a clean stop", async () => {
    const wal = await openWal(2);
    const first = openNode(wal);
    await appendInOrder(wal, [teamEvent("acme", 1), teamEvent("globex", 2), teamEvent("acme", 3)]);
    await settle(first.applier);
    await first.stop();
    const partition = wal.partitionFor("acme");
    const store = openStore({ dataDir: first.dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
    expect(store.meta.checkpoint(partition)).toBe(await wal.endOffset(partition));
    store.close();

    const second = openNode(wal, { dataDir: first.dataDir });
    await wal.append([teamEvent("acme", 4)]);
    await settle(second.applier);
    expect(second.applier.stats).toEqual({
      plans: 1,
      rejected: 0,
      duplicates: 0,
      skipped: 0,
      bad: 0,
      applyFailures: 0,
      runs: 0,
      runsRedone: 0,
    });
    expect(second.reader.getNode("acme", T.Team, "t4")?.id).toBe("t4");
  });

  it("after a crash replays from an older checkpoint and skips what tenants already applied", async () => {
    const wal = await openWal(1);
    const first = openNode(wal, { checkpointIntervalMs: 0 });
    await appendInOrder(wal, [teamEvent("acme", 0), teamEvent("globex", 1)]);
    await settle(first.applier);
    // The checkpoint is at 2; the next events are applied but never checkpointed.
    await first.stop();
    const partial = openNode(wal, { dataDir: first.dataDir, checkpointIntervalMs: 1e12 });
    await appendInOrder(
      wal,
      Array.from({ length: 7 }, (_, i) => teamEvent(i % 2 === 0 ? "acme" : "globex", i + 2)),
    );
    await settle(partial.applier);
    const before = dumps(partial.store, ["acme", "globex"]);
    await partial.crash();

    const second = openNode(await reopenWal(wal.path, 1), { dataDir: first.dataDir });
    await settle(second.applier);
    expect(second.applier.stats).toEqual({
      plans: 0,
      rejected: 0,
      duplicates: 0,
      skipped: 7,
      bad: 0,
      applyFailures: 0,
      runs: 0,
      runsRedone: 0,
    });
    expect(dumps(second.store, ["acme", "globex"])).toEqual(before);
  });
});

describe("failures stay with their tenant", () => {
  it("records an undecodable event, moves its tenant past it and keeps applying", async () => {
    const wal = await openWal(1);
    const { applier, reader, store } = openNode(wal);
    const [, bad] = await appendInOrder(wal, [
      teamEvent("acme", 1),
      { tenant: "acme", payload: new Uint8Array([0xff, 0xff, 0xff]) },
      { tenant: "acme", payload: planEvent("globex", "x", [team(9)]) },
      teamEvent("globex", 2),
      teamEvent("acme", 3),
    ]);
    await settle(applier);
    expect(await applier.waitFor("acme", bad!, 10)).toBe(true);
    expect(reader.getNode("acme", T.Team, "t3")?.id).toBe("t3");
    expect(reader.getNode("globex", T.Team, "t2")?.id).toBe("t2");
    expect(reader.getNode("globex", T.Team, "t9")).toBeUndefined();
    expect(store.meta.badEvents().map((b) => [b.offset, b.tenant, b.error.split(":")[0]])).toEqual([
      [1, "acme", "the payload is not a WalEvent"],
      [2, "acme", 'the event names tenant "globex" but is logged under "acme"'],
    ]);
    expect(applier.stats.bad).toBe(2);
  });

  it("parks a tenant whose database is corrupt, holds its checkpoint, and retries after a restart", async () => {
    const wal = await openWal(1);
    const node = openNode(wal);
    writeFileSync(node.store.tenantPath("broken"), "not a database ".repeat(64));
    const positions = await appendInOrder(wal, [
      teamEvent("fine", 1),
      teamEvent("broken", 2),
      teamEvent("fine", 3),
      teamEvent("broken", 4),
    ]);
    await settle(node.applier);
    expect(node.reader.getNode("fine", T.Team, "t3")?.id).toBe("t3");
    const parked = node.applier.parkedTenants();
    expect(parked.map((p) => [p.tenant, p.position.offset])).toEqual([["broken", 1]]);
    expect(parked[0]!.error.message).toBe(
      'Tenant "broken" stopped applying the log at 0:1: The database of tenant "broken" cannot be used: file is not a database.',
    );
    expect(() => node.reader.getNode("broken", T.Team, "t2")).toThrow(StoreError);
    await expect(node.applier.waitFor("broken", positions[3]!, 1_000)).rejects.toMatchObject({
      code: "tenant-unavailable",
    });
    await node.stop();

    const store = openStore({ dataDir: node.dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
    expect(store.meta.checkpoint(0)).toBe(1);
    store.close();

    // An operator removes the broken file; the restart replays from the held checkpoint.
    rmSync(node.store.tenantPath("broken"));
    const again = openNode(wal, { dataDir: node.dataDir });
    await settle(again.applier);
    expect(again.reader.getNodes("broken", T.Team, ["t2", "t4"]).map((n) => n.id)).toEqual([
      "t2",
      "t4",
    ]);
    expect(again.applier.stats.skipped).toBe(1);
  });

  it("parks a tenant whose event names a schema version nobody knows", async () => {
    const wal = await openWal(1);
    const { applier, reader } = openNode(wal);
    await appendInOrder(wal, [
      { tenant: "acme", payload: planEvent("acme", "k", [team(1)], { schemaVersion: 7 }) },
      teamEvent("other", 2),
    ]);
    await settle(applier);
    expect(applier.parkedTenants()[0]?.error.message).toBe(
      'Tenant "acme" stopped applying the log at 0:0: Schema version 7 is unknown: the server has not registered it and the log holds no SchemaChange for it.',
    );
    expect(reader.getNode("other", T.Team, "t2")?.id).toBe("t2");
  });
});

describe("schema changes", () => {
  it("records a schema change and brings a tenant's indexes to it when the tenant next applies an event", async () => {
    const wal = await openWal(1);
    const v2 = served(2, TRACKER_V2);
    // The server only knows v1: v2's model comes from the SchemaChange's lock JSON.
    const { applier, store, reader } = openNode(wal);
    const comment = (id: string, body: string) =>
      op.createNode(T.Comment, id, { 1: v.ref("task"), 2: v.ref("u"), 3: v.str(body), 4: v.ts(0) });
    await appendInOrder(wal, [
      {
        tenant: "acme",
        payload: planEvent("acme", "k1", [
          op.createNode(T.User, "u", { 1: v.str("a@x"), 2: v.str("A"), 3: v.str("a"), 6: v.ts(0) }),
          op.createNode(T.Team, "t", { 1: v.str("T"), 2: v.str("t") }),
          op.createNode(T.Project, "p", { 1: v.ref("t"), 2: v.str("P"), 3: v.str("P") }),
          op.createNode(T.Task, "task", {
            1: v.ref("p"),
            2: v.int(1n),
            3: v.str("x"),
            5: v.enum(1),
          }),
          comment("c1", "old searchable body"),
        ]),
      },
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, v2) },
    ]);
    await settle(applier);
    const db = () => store.tenant("acme", false)!;
    expect(db().state.schemaVersion).toBe(1);
    expect(db().hasObject("ix_n4_f8")).toBe(false);
    expect(store.meta.schema(2)?.fingerprint).toBe(v2.fingerprint);

    await wal.append([
      {
        tenant: "acme",
        payload: planEvent(
          "acme",
          "k2",
          [
            op.createNode(T.Comment, "c2", {
              1: v.ref("task"),
              2: v.ref("u"),
              3: v.str("b"),
              4: v.ts(0),
              7: v.str("summary words"),
            }),
          ],
          {
            schemaVersion: 2,
          },
        ),
      },
    ]);
    await settle(applier);
    expect(db().state.schemaVersion).toBe(2);
    expect(db().hasObject("ix_n4_f8")).toBe(true);
    expect(db().ftsFields(T.Comment)).toEqual([7]);
    const fts = db().db.prepare("SELECT rowid, f7 FROM fts_n5 ORDER BY rowid").all();
    expect(fts).toEqual([
      { rowid: 5n, f7: null },
      { rowid: 6n, f7: "summary words" },
    ]);
    expect(reader.getNode("acme", T.Comment, "c2")?.fields[7]?.kind).toEqual({
      case: "stringValue",
      value: "summary words",
    });
  });
});
