/**
 * DESIGN.md contract 11: a logged event never stops its tenant. Events that fail in
 * the applier are appended straight to a real embedded log (bypassing ingress, which
 * refuses them); their failure becomes their recorded outcome, the tenant's later
 * events apply, and a replay from scratch records the same bytes. A fault of the
 * environment (SQLite's SQLITE_FULL, a file that cannot be opened) still parks the
 * tenant; a restart retries, and so does the applier itself with `parkRetry`.
 */

import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { errorFromFailure } from "../../server/api/api-errors.ts";
import {
  Applier,
  type ApplyFailure,
  isEnvironmentFault,
  type ParkedTenant,
} from "../../server/apply/index.ts";
import type { PlanOutcome } from "../../server/engine.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { RebuildGate } from "../../server/store/rebuild-gate.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalRecord } from "../../server/wal/wal.ts";
import {
  lookupOf,
  op,
  planEvent,
  served,
  T,
  TRACKER_V1,
  tempDir,
  userFields,
  v,
} from "../store/store-fixtures.ts";
import { applyWholeLog } from "./apply-harness.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(label: string): string {
  const d = tempDir(label);
  cleanups.push(() => d.remove());
  return d.path;
}

async function openWal(): Promise<EmbeddedWal> {
  const wal = await openEmbeddedWal({
    path: join(dir("apply-failure-wal"), "wal.sqlite"),
    partitions: 2,
    writer: "inline",
  });
  cleanups.push(() => wal.close());
  return wal;
}

/** JSON text nested `depth` arrays deep. */
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

const teamFields = (n: number) => ({ 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) });
const projectFields = (key: string, settings?: string) => ({
  1: v.ref("t1"),
  2: v.str(key),
  3: v.str(`Project ${key}`),
  ...(settings === undefined ? {} : { 5: v.json(settings) }),
});

const TENANT = "acme";
const plan = (key: string, ops: Parameters<typeof planEvent>[2]): WalRecord => ({
  tenant: TENANT,
  payload: planEvent(TENANT, key, ops),
});

const MALFORMED =
  "The write was logged but changed nothing: applying operation 0 failed with SqliteError SQLITE_ERROR: malformed JSON. The server should have refused this request; report it.";

/** Starts an applier on `dataDir` over `wal`, waits until it has caught up, and stops it. */
async function applyAll(
  wal: EmbeddedWal,
  dataDir: string,
  options: { maxBatch?: number; prepare?: (store: Store) => void } = {},
) {
  const store = openStore({ dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
  options.prepare?.(store);
  const failures: ApplyFailure[] = [];
  const parks: ParkedTenant[] = [];
  const applier = new Applier({
    wal,
    store,
    maxBatch: options.maxBatch ?? 512,
    checkpointIntervalMs: 0,
    onApplyFailure: (f) => failures.push(f),
    onPark: (p) => parks.push(p),
  });
  await applyWholeLog(applier);
  const reader = createTenantReader(store);
  const outcome = (key: string): PlanOutcome | undefined =>
    store.unavailable(TENANT) ? undefined : reader.outcomeByKey(TENANT, key);
  return { store, applier, reader, failures, parks, outcome };
}

describe("a plan that fails in the applier", () => {
  it("records the failure as its outcome, keeps its tenant going, and replays identically", async () => {
    const wal = await openWal();
    await wal.append([
      plan("seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.Team, "t1", teamFields(1)),
        op.createNode(T.Project, "p1", projectFields("WEB", "{}")),
      ]),
      // SQLite's JSON functions stop at depth 1,000; the payload's indexes read every field.
      plan("deep-create", [op.createNode(T.Project, "p2", projectFields("API", nested(1000)))]),
      plan("deep-update", [
        op.updateNode(T.Project, "p1", { 3: v.str("Renamed") }),
        op.updateNode(T.Project, "p1", { 5: v.json(nested(1000)) }),
      ]),
      // A retry of the failed key with a good plan: the recorded failure stands.
      plan("deep-create", [op.createNode(T.Project, "p3", projectFields("APP"))]),
      plan("after", [
        op.createNode(T.Project, "p4", projectFields("OPS", nested(999))),
        op.updateNode(T.Project, "p1", { 3: v.str("Web site") }),
      ]),
    ]);

    const first = await applyAll(wal, dir("apply-failure-a"));
    expect(first.parks).toEqual([]);
    expect(first.applier.stats).toMatchObject({
      plans: 4,
      rejected: 2,
      duplicates: 1,
      applyFailures: 2,
    });
    const deepCreate = first.outcome("deep-create");
    expect(deepCreate?.results).toEqual([]);
    expect(deepCreate?.failure).toMatchObject({
      code: "internal",
      reason: "APPLY_FAILED",
      message: MALFORMED,
      operationIndex: 0,
    });
    expect(first.outcome("deep-update")?.failure).toMatchObject({
      code: "internal",
      reason: "APPLY_FAILED",
      message: MALFORMED.replace("operation 0", "operation 1"),
      operationIndex: 1,
    });
    // The hook saw both, with the original SQLite error as the cause (for the log's stack).
    expect(
      first.failures.map((f) => [f.idempotencyKey, f.position.offset, f.error.message]),
    ).toEqual([
      ["deep-create", 1, MALFORMED],
      ["deep-update", 2, MALFORMED.replace("operation 0", "operation 1")],
    ]);
    const cause = first.failures[0]?.error.cause;
    expect(cause).toBeInstanceOf(Database.SqliteError);
    expect((cause as InstanceType<typeof Database.SqliteError>).code).toBe("SQLITE_ERROR");
    // The caller, and every retry of the key, gets INTERNAL saying nothing changed.
    const answer = errorFromFailure(deepCreate!.failure!, TRACKER_V1);
    expect([answer.code, answer.rawMessage]).toEqual([Code.Internal, `${MALFORMED} (operation 0)`]);
    // Nothing of the failed plans was written; the later plan was.
    expect(first.outcome("after")?.failure).toBeUndefined();
    expect(first.reader.getNode(TENANT, T.Project, "p2")).toBeUndefined();
    expect(first.reader.getNode(TENANT, T.Project, "p3")).toBeUndefined();
    const p1 = first.reader.getNode(TENANT, T.Project, "p1");
    expect(p1?.version).toBe(2n);
    expect(p1?.fields[3]?.kind).toEqual({ case: "stringValue", value: "Web site" });
    expect(p1?.fields[5]?.kind).toEqual({ case: "jsonValue", value: "{}" });
    expect(first.reader.getNode(TENANT, T.Project, "p4")?.fields[5]?.kind).toEqual({
      case: "jsonValue",
      value: nested(999),
    });
    const path = first.store.tenantPath(TENANT);
    first.store.close();
    const reference = canonicalDump(path);
    expect(reference).toContain("APPLY_FAILED");

    // A replay from scratch, one event per batch: the same bytes and the same outcomes.
    const second = await applyAll(wal, dir("apply-failure-b"), { maxBatch: 1 });
    expect(second.parks).toEqual([]);
    expect(second.outcome("deep-create")).toEqual(deepCreate);
    const replayPath = second.store.tenantPath(TENANT);
    second.store.close();
    expect(canonicalDump(replayPath)).toBe(reference);
  });
});

describe("a fault of the environment", () => {
  it("parks the tenant before the event, records nothing, and a restart applies it", async () => {
    const wal = await openWal();
    await wal.append([
      plan("seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.Team, "t1", teamFields(1)),
      ]),
    ]);
    const dataDir = dir("apply-failure-full");
    const seeded = await applyAll(wal, dataDir);
    seeded.store.close();
    const other = {
      tenant: "globex",
      payload: planEvent("globex", "g1", [op.createNode(T.Team, "t9", teamFields(9))]),
    };
    const big = "x".repeat(60_000);
    const [held] = await wal.append([
      plan("big", [op.createNode(T.Project, "p1", { ...projectFields("WEB"), 3: v.str(big) })]),
      other,
    ]);

    // The file may not grow past its current size: the write fails with SQLITE_FULL.
    const full = await applyAll(wal, dataDir, {
      prepare: (store) => {
        const db = store.tenant(TENANT, true)!.db;
        const pages = Number(db.pragma("page_count", { simple: true }));
        db.pragma(`max_page_count = ${pages}`);
      },
    });
    expect(full.failures).toEqual([]);
    expect(full.parks.map((p) => [p.tenant, p.position])).toEqual([[TENANT, held]]);
    // The message ends with what to free, and where (recovery-room.ts).
    const file = join(dataDir, "tenants", "t-acme.sqlite");
    expect(full.parks[0]?.error.message.replace(/\d+\.\d MB/g, "N MB")).toBe(
      `Tenant "acme" stopped applying the log at ${held!.partition}:${held!.offset}: database or disk is full. Free N MB on the disk of ${file}: the retry checkpoints its N MB -wal file into it, which grows the file by up to that much.`,
    );
    expect(full.parks[0]?.error.cause).toMatchObject({ code: "SQLITE_FULL" });
    expect(full.applier.parkedTenants().map((p) => p.tenant)).toEqual([TENANT]);
    expect(() => full.reader.getNode(TENANT, T.Team, "t1")).toThrow(/stopped applying the log/);
    // Every other tenant goes on.
    expect(full.reader.getNode("globex", T.Team, "t9")?.id).toBe("t9");
    full.store.close();

    // The checkpoint stayed before the held event: a restart applies it.
    const restarted = await applyAll(wal, dataDir);
    expect(restarted.parks).toEqual([]);
    expect(restarted.outcome("big")?.failure).toBeUndefined();
    expect(restarted.reader.getNode(TENANT, T.Project, "p1")?.fields[3]?.kind).toEqual({
      case: "stringValue",
      value: big,
    });
    restarted.store.close();
  });
});

describe("a parked tenant, retried", () => {
  /** Polls `ready` every 10 ms for up to 10 s. */
  async function until(what: string, ready: () => boolean): Promise<void> {
    for (let i = 0; i < 1_000 && !ready(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!ready()) throw new Error(`timed out waiting until ${what}`);
  }

  it("stays parked while the fault lasts, then applies without a restart once it is gone", async () => {
    const wal = await openWal();
    await wal.append([
      plan("seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.Team, "t1", teamFields(1)),
      ]),
    ]);
    const dataDir = dir("apply-failure-retry");
    const seeded = await applyAll(wal, dataDir);
    const file = seeded.store.tenantPath(TENANT);
    seeded.store.close();
    // A directory where the tenant's file should be: SQLite cannot open it.
    const aside = `${file}.aside`;
    renameSync(file, aside);
    mkdirSync(file);
    const [held] = await wal.append([
      plan("p1", [op.createNode(T.Project, "p1", projectFields("WEB"))]),
      {
        tenant: "globex",
        payload: planEvent("globex", "g1", [op.createNode(T.Team, "t9", teamFields(9))]),
      },
      plan("p2", [op.createNode(T.Project, "p2", projectFields("API"))]),
    ]);

    const store = openStore({ dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
    const parks: ParkedTenant[] = [];
    const unparks: ParkedTenant[] = [];
    const waits: number[] = [];
    const applier = new Applier({
      wal,
      store,
      checkpointIntervalMs: 0,
      parkRetry: { firstMs: 20, maxMs: 80 },
      onPark: (p) => {
        parks.push(p);
        waits.push(p.retryAt! - Date.now());
      },
      onUnpark: (p) => unparks.push(p),
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await applier.stop();
      store.close();
    };
    cleanups.push(close);
    const reader = createTenantReader(store);
    applier.start();

    // Parked at its first event after the seed, then retried and parked again, later
    // each time, while the file cannot be opened; every other tenant goes on.
    await until("three retries failed", () => parks.length >= 4);
    expect(parks.map((p) => [p.tenant, p.position, p.retries])).toEqual(
      parks.map((_, i) => [TENANT, held, i]),
    );
    // Each wait is twice the last, up to the most.
    for (const [i, wait] of waits.slice(0, 4).entries()) {
      expect(wait).toBeGreaterThanOrEqual([20, 40, 80, 80][i]! - 2);
      expect(wait).toBeLessThanOrEqual([20, 40, 80, 80][i]!);
    }
    expect(parks[0]?.error.message).toMatch(/^Tenant "acme" stopped applying the log at \d+:\d+: /);
    expect(() => reader.getNode(TENANT, T.Team, "t1")).toThrow(/stopped applying the log/);
    expect(reader.getNode("globex", T.Team, "t9")?.id).toBe("t9");
    expect(unparks).toEqual([]);
    // The checkpoint stays before the parked event.
    expect(store.meta.checkpoint(held!.partition)).toBeLessThanOrEqual(held!.offset);

    // The operator puts the file back: the next retry applies the held events.
    rmSync(file, { recursive: true });
    renameSync(aside, file);
    await until("the tenant applies again", () => unparks.length === 1);
    expect(unparks[0]).toMatchObject({ tenant: TENANT, position: held });
    expect(applier.parkedTenants()).toEqual([]);
    expect(store.unavailable(TENANT)).toBeUndefined();
    await until("p2 applied", () => {
      try {
        return reader.getNode(TENANT, T.Project, "p2") !== undefined;
      } catch {
        return false;
      }
    });
    expect(reader.getNode(TENANT, T.Team, "t1")?.id).toBe("t1");
    expect(reader.getNode(TENANT, T.Project, "p1")?.id).toBe("p1");
    expect(reader.outcomeByKey(TENANT, "p1")?.failure).toBeUndefined();
    // Writes after it wait and apply as usual.
    const [next] = await wal.append([
      plan("p3", [op.createNode(T.Project, "p3", projectFields("OPS"))]),
    ]);
    expect(await applier.waitFor(TENANT, next!, 5_000)).toBe(true);
    await close();

    // The same database as a replay of the whole log from nothing.
    const replayDir = dir("apply-failure-retry-replay");
    const replay = await applyAll(wal, replayDir);
    const replayPath = replay.store.tenantPath(TENANT);
    replay.store.close();
    expect(canonicalDump(file)).toBe(canonicalDump(replayPath));
  });
});

/**
 * Applies `wal` into `dataDir`, moves the tenant's file aside (as an operator deleting it
 * would), then starts a store and an applier with fast park retries on `applierWal` (the
 * same log, or a view of it), as a server would with `gate`. `putBack` moves the file back.
 */
async function startWithFileGone(
  wal: EmbeddedWal,
  dataDir: string,
  options: { readonly applierWal?: EmbeddedWal; readonly gate?: RebuildGate } = {},
) {
  const seeded = await applyAll(wal, dataDir);
  const file = seeded.store.tenantPath(TENANT);
  seeded.store.close();
  const moves = ["", "-wal", "-shm"].filter((suffix) => existsSync(file + suffix));
  for (const suffix of moves) renameSync(file + suffix, `${file}.aside${suffix}`);

  let applier: Applier | undefined;
  const store = openStore({
    dataDir,
    schemas: lookupOf(served(1, TRACKER_V1)),
    ...(options.gate !== undefined && { gate: options.gate }),
    onLost: (tenant, error, applied) => applier?.parkLost(tenant, error, applied),
  });
  const parks: ParkedTenant[] = [];
  const unparks: ParkedTenant[] = [];
  applier = new Applier({
    wal: options.applierWal ?? wal,
    store,
    checkpointIntervalMs: 0,
    parkRetry: { firstMs: 20, maxMs: 80 },
    onPark: (p) => parks.push(p),
    onUnpark: (p) => unparks.push(p),
  });
  const running = applier;
  cleanups.push(async () => {
    await running.stop();
    store.close();
  });
  applier.start();
  return {
    applier,
    store,
    file,
    parks,
    unparks,
    reader: createTenantReader(store),
    putBack: () => {
      for (const suffix of moves) renameSync(`${file}.aside${suffix}`, file + suffix);
    },
  };
}

/** Waits up to 5 s for `done`. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe("a tenant whose file went missing while the applier ran", () => {
  it("is parked by the open that finds it so, and served again once the file is back", async () => {
    const wal = await openWal();
    await wal.append([
      plan("seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.Team, "t1", teamFields(1)),
      ]),
    ]);
    const { applier, file, parks, unparks, reader, putBack } = await startWithFileGone(
      wal,
      dir("apply-failure-lost"),
    );

    // A read finds it missing: refused, not created empty, and the tenant parked at its
    // last applied event, which no event of its own will bring.
    expect(() => reader.getNode(TENANT, T.Team, "t1")).toThrow(/is missing, but it had applied/);
    expect(existsSync(file)).toBe(false);
    expect(parks).toHaveLength(1);
    expect(parks[0]).toMatchObject({ tenant: TENANT, lost: true, retries: 0 });
    expect(parks[0]?.error.message).toMatch(
      /^Tenant "acme" is parked until a retry rebuilds its database from the log: The database of tenant "acme" is missing/,
    );
    // Without a rebuild gate (a server has one) the retries cannot rebuild it: parked again.
    await until(() => parks.length >= 3);
    expect(parks.map((p) => [p.lost, p.retries])).toEqual(parks.map((_, i) => [true, i]));
    expect(unparks).toEqual([]);

    // The operator puts the file back: the next retry finds it current and serves it.
    putBack();
    await until(() => unparks.length > 0);
    expect(unparks.map((p) => p.tenant)).toEqual([TENANT]);
    expect(applier.parkedTenants()).toEqual([]);
    expect(reader.getNode(TENANT, T.Team, "t1")?.id).toBe("t1");
  });
});

describe("a tenant whose file went missing, on a log that no longer reaches back", () => {
  it("stays parked with the reason and what to do, then is served once a copy of its file is back", async () => {
    const wal = await openWal();
    await wal.append([plan("seed", [op.createNode(T.Team, "t1", teamFields(1))])]);
    await wal.append([plan("more", [op.createNode(T.Team, "t2", teamFields(2))])]);
    // Retention deleted the first record (fault injection: the log itself is the real one,
    // only where it says it starts is changed).
    const CAUSE = "the test's retention deleted older records";
    const trimmed = new Proxy(wal, {
      get(target, key) {
        if (key === "logStart") return () => 1;
        if (key === "logStartCause") return CAUSE;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const gate = new RebuildGate({
      partitionFor: (t) => wal.partitionFor(t),
      logger: createLogger("error"),
    });
    const { store, parks, unparks, reader, putBack } = await startWithFileGone(
      wal,
      dir("apply-failure-beyond-log"),
      { applierWal: trimmed, gate },
    );

    expect(() => reader.getNode(TENANT, T.Team, "t1")).toThrow(/is missing, but it had applied/);
    // The retry finds that a rebuild would read offset 0, which the log no longer holds:
    // parked again, now saying so, with nothing held for a rebuild.
    await until(() => parks.length >= 3);
    expect(parks.length).toBeGreaterThanOrEqual(3);
    expect(parks[1]?.error.message).toBe(
      'Tenant "acme" is parked: its database cannot be used, and the log cannot rebuild it: ' +
        'The database of tenant "acme" cannot be rebuilt from the log: its database went missing while the server ran, ' +
        `and its rebuild needs partition 0 from offset 0, but the log starts at 1 (${CAUSE}). ` +
        "Put back a copy of its file that had applied partition 0 up to offset 1 or later (the next retry catches it up from there), " +
        "or restore the data dir from the archive (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive) and serve that.",
    );
    expect(parks.slice(1).every((p) => p.lost === true)).toBe(true);
    expect(store.rebuilding).toBe(false);
    expect(() => reader.getNode(TENANT, T.Team, "t1")).toThrow(/cannot be rebuilt from the log/);
    expect(unparks).toEqual([]);

    // A copy of the file is put back: the next retry serves it.
    putBack();
    await until(() => unparks.length > 0);
    expect(unparks.map((p) => p.tenant)).toEqual([TENANT]);
    expect(reader.getNode(TENANT, T.Team, "t2")?.id).toBe("t2");
  });
});

describe("isEnvironmentFault", () => {
  const sqlite = (code: string) => new Database.SqliteError(`failed: ${code}`, code);

  it("parks on I/O, full, corrupt, unopenable, read-only, memory and lock errors", () => {
    for (const code of [
      "SQLITE_IOERR",
      "SQLITE_IOERR_WRITE",
      "SQLITE_IOERR_FSYNC",
      "SQLITE_FULL",
      "SQLITE_CORRUPT",
      "SQLITE_CORRUPT_INDEX",
      "SQLITE_NOTADB",
      "SQLITE_CANTOPEN",
      "SQLITE_READONLY",
      "SQLITE_READONLY_DBMOVED",
      "SQLITE_NOMEM",
      "SQLITE_BUSY",
      "SQLITE_LOCKED",
    ]) {
      expect([code, isEnvironmentFault(sqlite(code))]).toEqual([code, true]);
    }
    expect(isEnvironmentFault(new StoreError("tenant-unavailable", "unknown version"))).toBe(true);
    expect(isEnvironmentFault(new StoreError("corrupt", "bad row"))).toBe(true);
    // Whatever happens once the database was closed under the applier.
    expect(isEnvironmentFault(new TypeError("The database connection is not open"), false)).toBe(
      true,
    );
  });

  it("records SQL errors of the event, constraint errors and bugs in apply code", () => {
    for (const err of [
      sqlite("SQLITE_ERROR"),
      sqlite("SQLITE_TOOBIG"),
      sqlite("SQLITE_CONSTRAINT_CHECK"),
      sqlite("SQLITE_MISMATCH"),
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      new RangeError("Invalid array length"),
      new StoreError("invalid-argument", "bad value"),
      "a thrown string",
    ]) {
      expect([String(err), isEnvironmentFault(err)]).toEqual([String(err), false]);
    }
  });

  it("names SQLite's real I/O-class errors with codes it classifies as the environment's", () => {
    const path = join(dir("apply-failure-ro"), "t.sqlite");
    const writable = new Database(path);
    writable.exec("CREATE TABLE t (x)");
    writable.close();
    const readonly = new Database(path, { readonly: true });
    let caught: unknown;
    try {
      readonly.exec("INSERT INTO t VALUES (1)");
    } catch (err) {
      caught = err;
    }
    readonly.close();
    expect((caught as { code?: string }).code).toBe("SQLITE_READONLY");
    expect(isEnvironmentFault(caught)).toBe(true);
  });
});
