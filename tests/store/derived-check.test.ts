/**
 * The start-up check of the derived state (`server/store/derived-check.ts`) with the
 * real embedded log, store and applier: what each derived file records, which files are
 * rebuilt and why, and that a tenant under rebuild is held from readers (never served
 * empty or stale) until the applier has caught up, while the others are served.
 */

import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { STORE_LAYOUT_VERSION } from "../../codegen/index.ts";
import { Applier, type ApplierOptions, SCHEMA_LOG_KEY } from "../../server/apply/applier.ts";
import { BulkLoad } from "../../server/apply/bulk-load.ts";
import { RESTORE_UNFINISHED } from "../../server/data-dir.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { type CheckedStore, openCheckedStore } from "../../server/store/derived-check.ts";
import { MetaDb } from "../../server/store/meta-db.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import {
  lookupOf,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  tempDir,
  userFields,
} from "./store-fixtures.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A data dir and its log, started and stopped like the server does. */
async function setup() {
  const dir = tempDir("derived");
  cleanups.push(() => dir.remove());
  const dataDir = join(dir.path, "data");
  const wal = await openEmbeddedWal({
    path: join(dir.path, "wal.sqlite"),
    partitions: 2,
    writer: "inline",
  });
  cleanups.push(() => wal.close());
  await wal.append([
    { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
  ]);
  let userNo = 0;
  /** Logs `count` user plans for `tenant`; keys are `<tenant>-<n>`. */
  const write = async (tenant: string, count: number) => {
    for (let i = 0; i < count; i++) {
      const n = userNo++;
      await wal.append([
        {
          tenant,
          payload: planEvent(tenant, `${tenant}-${n}`, [
            op.createNode(T.User, `u${n}`, userFields(n)),
          ]),
        },
      ]);
    }
  };
  const tenantFile = (tenant: string) =>
    join(
      dataDir,
      "tenants",
      `t-${tenant}.sqlite`.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    );
  return { dataDir, wal, write, tenantFile };
}

interface Running extends CheckedStore {
  readonly applier: Applier;
  readonly logs: string[];
  readonly reader: ReturnType<typeof createTenantReader>;
  /** Lets held partitions be read (when started with `held`). */
  release(): void;
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Checks the data dir and starts an applier on it; `held` keeps rebuilds from reading until `release`. */
async function start(
  dataDir: string,
  wal: EmbeddedWal,
  options: {
    held?: boolean;
    applier?: boolean;
    beforeTenantBatch?: ApplierOptions["beforeTenantBatch"];
  } = {},
): Promise<Running> {
  const logs: string[] = [];
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const checked = await openCheckedStore({
    dataDir,
    schemas: lookupOf(served(1, TRACKER_V1)),
    wal,
    logger: createLogger("info", (line) => logs.push(line)),
    ...(options.held ? { holdRebuild: () => released } : {}),
  });
  const applier = new Applier({
    wal,
    store: checked.store,
    checkpointIntervalMs: 0,
    ...(options.beforeTenantBatch ? { beforeTenantBatch: options.beforeTenantBatch } : {}),
  });
  if (options.applier !== false) applier.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    release();
    await applier.stop();
    checked.store.close();
  };
  cleanups.push(stop);
  return {
    ...checked,
    applier,
    logs,
    reader: createTenantReader(checked.store),
    release,
    async caughtUp() {
      for (let i = 0; i < 2_000 && !(await applier.caughtUp()); i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(await applier.caughtUp()).toBe(true);
    },
    stop,
  };
}

/** What a read of a held tenant throws. */
function heldError(read: () => unknown): StoreError {
  try {
    read();
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error("expected the read to be held");
}

function logged(logs: readonly string[], msg: string): Record<string, unknown>[] {
  return logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

describe("what derived files record", () => {
  it("stores the log identity in meta.sqlite and new tenant files, and each tenant's position at the checkpoint", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 3);
    await write("globex", 2);
    const run = await start(dataDir, wal);
    await run.caughtUp();
    await run.stop();

    const meta = new MetaDb(join(dataDir, "meta.sqlite"));
    expect(meta.logIdentity()).toBe(wal.identity);
    const acme = TenantDb.open("acme", tenantFile("acme"), false)!;
    const globex = TenantDb.open("globex", tenantFile("globex"), false)!;
    expect(acme.logIdentity).toBe(wal.identity);
    expect([...meta.tenantPositions()]).toEqual(
      [
        ["acme", { partition: acme.state.partition, appliedOffset: acme.state.appliedOffset }],
        [
          "globex",
          { partition: globex.state.partition, appliedOffset: globex.state.appliedOffset },
        ],
      ].sort(),
    );
    expect(meta.rebuilds().size).toBe(0);
    acme.close();
    globex.close();
    meta.close();
  });
});

describe("rebuilding at start", () => {
  it("holds a tenant whose file is missing until its partition is replayed, and serves the others", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 4);
    await write("globex", 3);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    rmSync(tenantFile("acme"));

    const run = await start(dataDir, wal, { held: true });
    const partition = wal.partitionFor("acme");
    const end = await wal.endOffset(partition);
    expect(run.store.replayStart(partition)).toBe(0);
    const held = heldError(() => run.reader.outcomeByKey("acme", "acme-0"));
    expect(held.code).toBe("tenant-unavailable");
    expect(held.message).toBe(
      `Tenant "acme" is being rebuilt from the log (its database is missing); it is served again once the log is applied up to ${partition}:${end}. Retry shortly.`,
    );
    expect(run.reader.outcomeByKey("globex", "globex-4")?.results).toHaveLength(1);
    expect(logged(run.logs, "tenant database is rebuilt from the log")).toMatchObject([
      { level: "warn", tenant: "acme", reason: "its database is missing" },
    ]);

    run.release();
    await run.caughtUp();
    expect(run.reader.outcomeByKey("acme", "acme-0")?.results).toHaveLength(1);
    expect(logged(run.logs, "tenant rebuilt from the log")).toMatchObject([
      { level: "info", tenant: "acme", position: `${partition}:${end}` },
    ]);
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("rebuilds a tenant file that a killed restore left bulk-loaded, without its indexes", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 30);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    // A restore killed part-way: the tenant applied from nothing with its indexes
    // deferred (as server/archive/restore-apply.ts does), and never finished.
    rmSync(dataDir, { recursive: true });
    const bulk = new BulkLoad();
    const killed = await start(dataDir, wal, { beforeTenantBatch: (db) => bulk.prepare(db) });
    await killed.caughtUp();
    await killed.stop();
    expect(bulk.tenants).toEqual(["acme"]);
    const left = canonicalDump(tenantFile("acme"));
    expect(left).toMatch(/^table bulk_load_unfinished:/m);
    expect(left).not.toMatch(/^index nodes_by_type:/m);

    const run = await start(dataDir, wal);
    expect(logged(run.logs, "tenant database is rebuilt from the log")).toMatchObject([
      {
        level: "warn",
        tenant: "acme",
        reason: "a restore's bulk load of it did not finish (its indexes are missing)",
      },
    ]);
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("catches a rolled-back tenant file up from its own position, never serving it stale", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 3);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const old = join(dataDir, "..", "acme-old.sqlite");
    cpSync(tenantFile("acme"), old);
    const oldDb = TenantDb.open("acme", old, false)!;
    const oldState = oldDb.state;
    oldDb.close();
    await write("acme", 2);
    const second = await start(dataDir, wal);
    await second.caughtUp();
    await second.stop();
    const before = canonicalDump(tenantFile("acme"));
    const recorded = new MetaDb(join(dataDir, "meta.sqlite"));
    const at = recorded.tenantPositions().get("acme")!;
    recorded.close();
    cpSync(old, tenantFile("acme"));

    const run = await start(dataDir, wal, { held: true });
    expect(run.store.replayStart(oldState.partition)).toBe(oldState.appliedOffset);
    const reason = `its database is older than meta.sqlite records (at ${oldState.partition}:${oldState.appliedOffset}, recorded ${at.partition}:${at.appliedOffset})`;
    expect(heldError(() => run.reader.outcomeByKey("acme", "acme-0")).message).toContain(
      `(${reason})`,
    );
    expect(logged(run.logs, "tenant database catches up from the log")).toMatchObject([
      { level: "warn", tenant: "acme", reason },
    ]);
    run.release();
    await run.caughtUp();
    // The events the old copy had were skipped by its applied offset, not applied twice.
    expect(run.applier.stats.plans).toBe(2);
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("sets aside a tenant file that fails PRAGMA quick_check and replays the tenant", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 300);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    // Break the header of the unique email index's root page: the tenant's state, its
    // tables and the pages opening reads stay intact, so only the check finds it.
    const raw = new Database(tenantFile("acme"), { readonly: true });
    const { rootpage } = raw
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'ux_n1_f1'")
      .get() as { rootpage: number };
    raw.close();
    const bytes = readFileSync(tenantFile("acme"));
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0xff, (rootpage - 1) * pageSize, (rootpage - 1) * pageSize + 8);
    writeFileSync(tenantFile("acme"), bytes);

    const run = await start(dataDir, wal);
    const [found] = logged(run.logs, "tenant database is rebuilt from the log");
    expect(found).toMatchObject({ level: "warn", tenant: "acme" });
    expect(String(found?.reason)).toMatch(
      new RegExp(
        `^PRAGMA quick_check found: \\*\\*\\* in database main \\*\\*\\*\nTree ${rootpage} page ${rootpage}: btreeInitPage\\(\\) returns error code 11`,
      ),
    );
    expect(readdirSync(join(dataDir, "set-aside"))).toEqual([
      expect.stringMatching(/^t-acme\.sqlite\.\d{4}-/),
    ]);
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("sets aside a tenant file of an older store layout (full-text tokenizer) and replays the tenant", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 20);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    // What a layout-1 file looked like: the plain unicode61 tokenizer, user_version 1.
    const old = new Database(tenantFile("acme"));
    old.exec("DROP TABLE fts_n1");
    old.exec("CREATE VIRTUAL TABLE fts_n1 USING fts5(f2, tokenize = 'unicode61')");
    old.exec(
      `INSERT INTO fts_n1(rowid, f2) SELECT seq, json_extract(payload, '$."2"') FROM nodes WHERE type_id = 1`,
    );
    old.pragma("user_version = 1");
    old.close();

    const run = await start(dataDir, wal);
    const [found] = logged(run.logs, "tenant database is rebuilt from the log");
    expect(found).toMatchObject({ level: "warn", tenant: "acme" });
    expect(String(found?.reason)).toContain(
      `the file has store layout 1; this server reads layout ${STORE_LAYOUT_VERSION}`,
    );
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
    const rebuilt = new Database(tenantFile("acme"), { readonly: true });
    expect(
      rebuilt.prepare("SELECT sql FROM sqlite_master WHERE name = 'fts_n1'").pluck().get(),
    ).toContain("tokenize = 'unicode61 remove_diacritics 2'");
    rebuilt.close();
  });

  it("rebuilds meta.sqlite made from another log and holds every tenant of each partition", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 2);
    await write("globex", 2);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("globex"));
    const meta = new MetaDb(join(dataDir, "meta.sqlite"));
    meta.setLogIdentity("embedded:another-log");
    meta.close();

    const run = await start(dataDir, wal, { held: true });
    expect(run.metaRebuilt).toBe(true);
    const reason = `it was derived from another log (embedded:another-log, not ${wal.identity})`;
    expect(logged(run.logs, "meta.sqlite is rebuilt from the log")).toMatchObject([
      { level: "warn", reason },
    ]);
    for (const tenant of ["acme", "globex"]) {
      expect(heldError(() => run.reader.outcomeByKey(tenant, `${tenant}-0`)).message).toContain(
        `Tenant "${tenant}" is being rebuilt from the log (${reason})`,
      );
    }
    run.release();
    await run.caughtUp();
    expect(run.reader.outcomeByKey("globex", "globex-2")?.results).toHaveLength(1);
    await run.stop();
    const again = new MetaDb(join(dataDir, "meta.sqlite"));
    expect(again.logIdentity()).toBe(wal.identity);
    expect(again.rebuilds().size).toBe(0);
    // The kept files are known to the new meta.sqlite although the replay applied nothing to them.
    expect(run.applier.stats.plans).toBe(0);
    expect([...again.tenantPositions().keys()]).toEqual(["acme", "globex"]);
    again.close();
    expect(canonicalDump(tenantFile("globex"))).toBe(before);
  });

  it("warns of a missing meta.sqlite in a data dir that holds tenant files", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 2);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    for (const suffix of ["", "-wal", "-shm"])
      rmSync(join(dataDir, `meta.sqlite${suffix}`), { force: true });

    const run = await start(dataDir, wal);
    expect(run.metaRebuilt).toBe(true);
    expect(logged(run.logs, "meta.sqlite is rebuilt from the log")).toMatchObject([
      { level: "warn", reason: "meta.sqlite is missing" },
    ]);
    expect(logged(run.logs, "meta.sqlite is built from the log")).toEqual([]);
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("builds meta.sqlite of a new data dir on a log with records at info, warning of nothing", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 2);

    const run = await start(dataDir, wal);
    expect(run.metaRebuilt).toBe(true);
    const lines = run.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.level === "warn")).toEqual([]);
    expect(logged(run.logs, "meta.sqlite is built from the log")).toMatchObject([
      { level: "info", reason: "a new data dir" },
    ]);
    await run.caughtUp();
    expect(run.reader.outcomeByKey("acme", "acme-1")?.results).toHaveLength(1);
    await run.stop();
    expect(existsSync(tenantFile("acme"))).toBe(true);
  });

  it("builds meta.sqlite at info in a data dir a restore is filling, tenant files placed or not", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 2);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    // What a restore leaves before its apply: its marker and the snapshots' tenant files.
    for (const suffix of ["", "-wal", "-shm"])
      rmSync(join(dataDir, `meta.sqlite${suffix}`), { force: true });
    writeFileSync(join(dataDir, RESTORE_UNFINISHED), "from a test\n");

    const run = await start(dataDir, wal);
    const lines = run.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.level === "warn")).toEqual([]);
    expect(logged(run.logs, "meta.sqlite is built from the log")).toMatchObject([
      { level: "info", reason: "a restore is filling the data dir" },
    ]);
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("sets aside a meta.sqlite that is not a database and rebuilds it", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 2);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    for (const side of ["-wal", "-shm"])
      rmSync(join(dataDir, `meta.sqlite${side}`), { force: true });
    writeFileSync(join(dataDir, "meta.sqlite"), "not a database ".repeat(400));

    const run = await start(dataDir, wal);
    expect(run.metaRebuilt).toBe(true);
    const [found] = logged(run.logs, "meta.sqlite is rebuilt from the log");
    expect(found?.reason).toBe(
      `it cannot be opened: Cannot open the store's meta database ${join(dataDir, "meta.sqlite")}: SqliteError: file is not a database`,
    );
    expect(readdirSync(join(dataDir, "set-aside"))).toEqual([
      expect.stringMatching(/^meta\.sqlite\.\d{4}-/),
    ]);
    await run.caughtUp();
    expect(run.reader.outcomeByKey("acme", "acme-1")?.results).toHaveLength(1);
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("sets aside a -wal file left behind by a deleted tenant database", async () => {
    const { dataDir, wal, write, tenantFile } = await setup();
    await write("acme", 3);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    // What a crash leaves while the tenant is open: its -wal file with recent commits.
    const orphan = readFileSync(`${tenantFile("acme")}-wal`);
    expect(orphan.length).toBeGreaterThan(0);
    await first.stop();
    const before = canonicalDump(tenantFile("acme"));
    rmSync(tenantFile("acme"));
    writeFileSync(`${tenantFile("acme")}-wal`, orphan);

    const run = await start(dataDir, wal);
    // One warning for the database's side files, which move together.
    const [warned, ...more] = logged(run.logs, "side file without its database; set aside");
    expect(more).toEqual([]);
    expect(warned).toMatchObject({ level: "warn" });
    expect(String(warned?.file)).toMatch(/^t-acme\.sqlite-(wal|shm)$/);
    expect(readdirSync(join(dataDir, "set-aside"))).toContainEqual(
      expect.stringMatching(/^t-acme\.sqlite\.\d{4}-.*-wal$/),
    );
    await run.caughtUp();
    await run.stop();
    expect(canonicalDump(tenantFile("acme"))).toBe(before);
  });

  it("keeps the hold of a partition being rebuilt across a restart before it finished", async () => {
    const { dataDir, wal, write } = await setup();
    await write("acme", 2);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    rmSync(join(dataDir, "meta.sqlite"));
    const interrupted = await start(dataDir, wal, { held: true });
    await interrupted.stop();

    const run = await start(dataDir, wal, { applier: false });
    expect(run.metaRebuilt).toBe(false);
    expect(heldError(() => run.reader.outcomeByKey("acme", "acme-0")).message).toContain(
      "(meta.sqlite was being rebuilt)",
    );
  });

  it("holds a tenant without a file that meta.sqlite does not know until the log end found at start", async () => {
    const { dataDir, wal, write } = await setup();
    await write("acme", 1);
    const first = await start(dataDir, wal);
    await first.caughtUp();
    await first.stop();
    await write("newco", 2);

    const run = await start(dataDir, wal, { applier: false });
    const partition = wal.partitionFor("newco");
    const end = await wal.endOffset(partition);
    expect(heldError(() => run.reader.outcomeByKey("newco", "newco-1")).message).toBe(
      `Tenant "newco" has no database yet and the server is still applying the log up to ${partition}:${end} (the end found at start); retry shortly.`,
    );
    expect(run.reader.outcomeByKey("acme", "acme-0")?.results).toHaveLength(1);
    run.applier.start();
    await run.caughtUp();
    expect(run.reader.outcomeByKey("newco", "newco-1")?.results).toHaveLength(1);
    expect(run.reader.outcomeByKey("nobody", "k")).toBeUndefined();
    expect(existsSync(join(dataDir, "set-aside"))).toBe(false);
  });
});
