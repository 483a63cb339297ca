/**
 * DESIGN.md contract 8 against a real server and its embedded log: every derived file
 * in the data dir (meta.sqlite, tenant databases, schema version files) that is missing,
 * stale, foreign or corrupt is rebuilt from the log at start and never served meanwhile.
 * Each case copies one stopped data dir, damages the copy, restarts on it and compares
 * the canonical dump of every tenant with the undamaged one, byte for byte.
 */

import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import {
  connectError,
  countNodes,
  countWhenServed,
  type EntDbClient,
  entDbClient,
  refusedKeyedWrite,
  str,
  TRACKER,
  teamOp,
  userOp,
} from "./e2e-helpers.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const TENANTS = ["acme", "globex", "initech", "umbrella"];
/** Teams per tenant written before the old copy of acme's file is taken, and after. */
const FIRST = 12;
const SECOND = 8;
const SIDE = ["", "-wal", "-shm"];

const dirs: string[] = [];
let baseline = "";
let oldAcme = "";
let oldDerived = "";
let expected = new Map<string, string>();

function freshDir(): string {
  const dir = tempDataDir("entdb-derived-");
  dirs.push(dir);
  return dir;
}

function tenantPath(dataDir: string, tenant: string): string {
  return join(dataDir, "tenants", tenantFileName(tenant));
}

/** Canonical dump of every tenant database in a stopped server's data dir, by file name. */
function dumps(dataDir: string): Map<string, string> {
  const dir = join(dataDir, "tenants");
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    if (SIDE.some((s) => s !== "" && name.endsWith(s))) continue;
    out.set(name, canonicalDump(join(dir, name)));
  }
  return out;
}

function removeFile(path: string): void {
  for (const suffix of SIDE) rmSync(path + suffix, { force: true });
}

/** Copies a database file (and side files) over another, removing stale side files first. */
function copyDb(from: string, to: string): void {
  removeFile(to);
  for (const suffix of SIDE) if (existsSync(from + suffix)) cpSync(from + suffix, to + suffix);
}

async function writeTeams(api: EntDbClient, tenant: string, from: number, count: number) {
  for (let i = from; i < from + count; i++) {
    await api.executePlan({
      tenant,
      idempotencyKey: `${tenant}-team-${i}`,
      operations: [teamOp(`Team ${i} of ${tenant}`, `${tenant}-${i}`)],
    });
  }
}

/**
 * Writes a new embedded log at `to` (so a new identity) holding the records of the one at
 * `from` at the same positions: one record per call, in offset order per partition.
 */
async function copyLogAnew(from: string, to: string): Promise<void> {
  const source = await openEmbeddedWal({ path: from });
  const entries = await readWalToEnd(source);
  await source.close();
  removeFile(to);
  const target = await openEmbeddedWal({ path: to, partitions: source.partitions });
  const appends: Promise<unknown>[] = [];
  for (const partition of entries)
    for (const e of partition)
      appends.push(target.append([{ tenant: e.tenant, payload: e.payload }]));
  await Promise.all(appends);
  const ends = await Promise.all(entries.map((_, p) => target.endOffset(p)));
  expect(ends).toEqual(entries.map((partition) => partition.length));
  expect(target.identity).not.toBe(source.identity);
  await target.close();
}

async function stopOk(server: ServerProcess): Promise<void> {
  expect(await server.stop(), server.logs()).toBe(0);
}

/** Restarts on a damaged copy of the baseline, checks reads and logs, stops, and returns the copy. */
async function restartOn(damage: (dataDir: string) => void, logged: RegExp[]): Promise<string> {
  const dataDir = freshDir();
  cpSync(baseline, dataDir, { recursive: true });
  damage(dataDir);
  const server = await startServerProcess({ dataDir });
  try {
    const api = entDbClient(server);
    for (const tenant of TENANTS) expect(await countNodes(api, tenant)).toBe(FIRST + SECOND);
    for (const pattern of logged) expect(server.logs()).toMatch(pattern);
  } finally {
    await stopOk(server);
  }
  return dataDir;
}

beforeAll(async () => {
  baseline = freshDir();
  const first = await startServerProcess({ dataDir: baseline });
  let api = entDbClient(first);
  for (const tenant of TENANTS) await writeTeams(api, tenant, 0, FIRST);
  await api.executePlan({
    tenant: "acme",
    operations: [userOp("ada", "Ada Lovelace")],
  });
  await stopOk(first);
  oldAcme = join(freshDir(), "acme-old.sqlite");
  copyDb(tenantPath(baseline, "acme"), oldAcme);
  // Every derived file as it was then: a backup of the data dir older than the log.
  oldDerived = freshDir();
  for (const part of ["meta.sqlite", "tenants", "schemas"])
    cpSync(join(baseline, part), join(oldDerived, part), { recursive: true });

  const second = await startServerProcess({ dataDir: baseline });
  api = entDbClient(second);
  for (const tenant of TENANTS) await writeTeams(api, tenant, FIRST, SECOND);
  await stopOk(second);
  expected = dumps(baseline);
}, 120_000);

afterAll(() => {
  for (const dir of dirs.splice(0)) removeDataDir(dir);
});

/** Starts on a damaged copy with rebuilds held, so the held state can be read. */
async function startHeld(damage: (dataDir: string) => void) {
  const dataDir = freshDir();
  cpSync(baseline, dataDir, { recursive: true });
  damage(dataDir);
  const hold = join(dataDir, "hold");
  writeFileSync(hold, "");
  const server = await startServerProcess({
    dataDir,
    env: { ENTDB_TEST_HOLD_REBUILD: hold },
    readyPath: "/health",
  });
  return { dataDir, server, release: () => rmSync(hold) };
}

describe("derived state at start", () => {
  it("has a baseline with every tenant, its full-text table and its log identity", () => {
    expect([...expected.keys()]).toEqual(TENANTS.map((t) => tenantFileName(t)).sort());
    const acme = expected.get(tenantFileName("acme"))!;
    expect(acme).toMatch(/^table fts_n2: CREATE VIRTUAL TABLE fts_n2 USING fts5/m);
    expect(acme).toContain('"Team 19 of acme"');
    expect(acme).not.toContain("derived_from");
  });

  const parts = {
    meta: (d: string) => removeFile(join(d, "meta.sqlite")),
    tenants: (d: string) => rmSync(join(d, "tenants"), { recursive: true }),
    oneTenant: (d: string) => removeFile(tenantPath(d, "globex")),
    schemas: (d: string) => rmSync(join(d, "schemas"), { recursive: true }),
  } as const;
  const names = Object.keys(parts) as (keyof typeof parts)[];
  const subsets: (keyof typeof parts)[][] = [];
  for (let mask = 1; mask < 1 << names.length; mask++)
    subsets.push(names.filter((_, i) => (mask & (1 << i)) !== 0));

  it.each(subsets.map((s) => [s.join(" + "), s] as const))(
    "rebuilds byte-identical tenants after deleting %s",
    async (_label, subset) => {
      const logged: RegExp[] = [];
      // Without tenant files the data dir is as a new one, which lost nothing to warn of.
      if (subset.includes("meta") && subset.includes("tenants"))
        logged.push(
          /"level":"info","msg":"meta.sqlite is built from the log","reason":"a new data dir"/,
        );
      else if (subset.includes("meta"))
        logged.push(
          /"level":"warn","msg":"meta.sqlite is rebuilt from the log","reason":"meta.sqlite is missing"/,
        );
      else if (subset.includes("tenants") || subset.includes("oneTenant"))
        logged.push(
          /"msg":"tenant database is rebuilt from the log","tenant":"globex","reason":"its database is missing"/,
        );
      if (subset.includes("schemas"))
        logged.push(/"msg":"schema version files restored from the log","versions":\[1\]/);
      const dataDir = await restartOn((d) => {
        for (const part of subset) parts[part](d);
      }, logged);
      expect(dumps(dataDir)).toEqual(expected);
      expect(readdirSync(join(dataDir, "schemas"))).toEqual([
        "v000001.info.json",
        "v000001.lock.json",
      ]);
    },
    60_000,
  );

  it("catches up a tenant file rolled back to an older copy", async () => {
    const dataDir = await restartOn(
      (d) => copyDb(oldAcme, tenantPath(d, "acme")),
      [
        /"msg":"tenant database catches up from the log","tenant":"acme","reason":"its database is older than meta.sqlite records \(at \d+:\d+, recorded \d+:\d+\)"/,
      ],
    );
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("catches up a meta.sqlite rolled back to an older copy", async () => {
    const dataDir = await restartOn(
      (d) => copyDb(join(oldDerived, "meta.sqlite"), join(d, "meta.sqlite")),
      [],
    );
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("catches up every derived file rolled back to older copies at once", async () => {
    const dataDir = await restartOn((d) => {
      for (const part of ["meta.sqlite", "tenants", "schemas"]) {
        rmSync(join(d, part), { recursive: true, force: true });
        cpSync(join(oldDerived, part), join(d, part), { recursive: true });
      }
    }, []);
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("sets aside and rebuilds a tenant file replaced by garbage", async () => {
    const dataDir = await restartOn(
      (d) => {
        removeFile(tenantPath(d, "initech"));
        writeFileSync(
          tenantPath(d, "initech"),
          "this is not a database, only some bytes ".repeat(200),
        );
      },
      [
        /"msg":"tenant database is rebuilt from the log","tenant":"initech","reason":"The database of tenant \\"initech\\" cannot be used: file is not a database\."/,
      ],
    );
    expect(dumps(dataDir)).toEqual(expected);
    const aside = readdirSync(join(dataDir, "set-aside"));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(/^t-initech\.sqlite\.\d{4}-\d\d-\d\dT/);
  }, 60_000);

  it("sets aside and rebuilds a tenant file replaced by another tenant's", async () => {
    const dataDir = await restartOn(
      (d) => copyDb(tenantPath(d, "acme"), tenantPath(d, "umbrella")),
      [
        /"msg":"tenant database is rebuilt from the log","tenant":"umbrella","reason":"The database of tenant \\"umbrella\\" cannot be used: the file belongs to tenant \\"acme\\"\."/,
      ],
    );
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("rebuilds meta.sqlite and every tenant when the log is another one with the same history", async () => {
    const dataDir = freshDir();
    cpSync(baseline, dataDir, { recursive: true });
    await copyLogAnew(join(baseline, "wal.sqlite"), join(dataDir, "wal.sqlite"));
    const server = await startServerProcess({ dataDir });
    try {
      const api = entDbClient(server);
      for (const tenant of TENANTS) expect(await countNodes(api, tenant)).toBe(FIRST + SECOND);
      expect(server.logs()).toMatch(
        /"msg":"meta.sqlite is rebuilt from the log","reason":"it was derived from another log \(embedded:[-0-9a-f]+, not embedded:[-0-9a-f]+\)"/,
      );
      expect(server.logs()).toMatch(
        /"msg":"tenant database is rebuilt from the log","tenant":"acme","reason":"its database was derived from another log/,
      );
    } finally {
      await stopOk(server);
    }
    expect(dumps(dataDir)).toEqual(expected);
    expect(readdirSync(join(dataDir, "set-aside"))).toHaveLength(1 + TENANTS.length);
  }, 60_000);
});

describe("a tenant being rebuilt", () => {
  /** Reads until the tenant is served; every answer is UNAVAILABLE (rebuilding) or everything. */
  async function readUntilServed(api: EntDbClient, tenant: string, reason: string) {
    for (;;) {
      let count: number;
      try {
        count = await countNodes(api, tenant);
      } catch (err) {
        const e = ConnectError.from(err);
        expect(e.code).toBe(Code.Unavailable);
        expect(e.rawMessage).toContain(
          `Tenant "${tenant}" is being rebuilt from the log (${reason}); it is served again once the log is applied up to`,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      expect(count).toBe(FIRST + SECOND);
      return;
    }
  }

  it("answers UNAVAILABLE for a missing tenant until it has caught up, and serves the others", async () => {
    const { dataDir, server, release } = await startHeld((d) =>
      removeFile(tenantPath(d, "globex")),
    );
    try {
      const api = entDbClient(server);
      const held = await connectError(countNodes(api, "globex"));
      expect(held.code).toBe(Code.Unavailable);
      expect(held.rawMessage).toMatch(
        /^Tenant "globex" is being rebuilt from the log \(its database is missing\); it is served again once the log is applied up to \d+:\d+\. Retry shortly\.$/,
      );
      // A write with a key cannot be checked against its earlier outcome yet: refused, not logged.
      await refusedKeyedWrite(api, "globex", "globex-team-0", "globex-0");
      for (const tenant of ["acme", "initech", "umbrella"])
        expect(await countNodes(api, tenant)).toBe(FIRST + SECOND);
      release();
      await readUntilServed(api, "globex", "its database is missing");
    } finally {
      if (existsSync(join(dataDir, "hold"))) release();
      await stopOk(server);
    }
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("never serves a rolled-back tenant stale", async () => {
    const { dataDir, server, release } = await startHeld((d) =>
      copyDb(oldAcme, tenantPath(d, "acme")),
    );
    try {
      const api = entDbClient(server);
      const held = await connectError(countNodes(api, "acme"));
      expect(held.code).toBe(Code.Unavailable);
      const shape =
        /^Tenant "acme" is being rebuilt from the log \((its database is older than meta\.sqlite records \(at \d+:\d+, recorded \d+:\d+\))\); it is served again once the log is applied up to \d+:\d+\. Retry shortly\.$/;
      expect(held.rawMessage).toMatch(shape);
      release();
      await readUntilServed(api, "acme", shape.exec(held.rawMessage)![1]!);
    } finally {
      if (existsSync(join(dataDir, "hold"))) release();
      await stopOk(server);
    }
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);

  it("holds every tenant, and a tenant without a file, while meta.sqlite is rebuilt", async () => {
    const { dataDir, server, release } = await startHeld((d) => {
      removeFile(join(d, "meta.sqlite"));
      removeFile(tenantPath(d, "umbrella"));
    });
    try {
      const api = entDbClient(server);
      for (const tenant of TENANTS) {
        const held = await connectError(countNodes(api, tenant));
        expect(held.code).toBe(Code.Unavailable);
        expect(held.rawMessage).toContain(
          `Tenant "${tenant}" is being rebuilt from the log (meta.sqlite is missing)`,
        );
      }
      release();
      for (const tenant of TENANTS) await readUntilServed(api, tenant, "meta.sqlite is missing");
    } finally {
      if (existsSync(join(dataDir, "hold"))) release();
      await stopOk(server);
    }
    expect(dumps(dataDir)).toEqual(expected);
  }, 60_000);
});

describe("a tenant file damaged while the server runs", () => {
  /**
   * Starts on a copy of the baseline with one open tenant database at a time, lets
   * `damage` change acme's file once its handle is closed, and checks that acme is never
   * served from the damaged file: the first read answers UNAVAILABLE with `refused` and
   * parks the tenant, and its retry catches it up from the log while the server runs,
   * with no write needed. Returns the data dir, stopped.
   */
  async function damageLive(damage: (file: string) => void, refused: RegExp): Promise<string> {
    const dataDir = freshDir();
    cpSync(baseline, dataDir, { recursive: true });
    const server = await startServerProcess({ dataDir, env: { ENTDB_MAX_OPEN_TENANTS: "1" } });
    try {
      const api = entDbClient(server);
      expect(await countNodes(api, "acme")).toBe(FIRST + SECOND);
      // Opening globex closes acme's file.
      expect(await countNodes(api, "globex")).toBe(FIRST + SECOND);
      damage(tenantPath(dataDir, "acme"));

      const read = await connectError(countNodes(api, "acme"));
      expect(read.code).toBe(Code.Unavailable);
      expect(read.rawMessage).toMatch(refused);
      // The read parked the tenant (no write of it is needed, and a write with a key, as
      // the generated client sends, is refused before the log while it is unavailable).
      const keyed = await refusedKeyedWrite(api, "acme", "acme-during", "acme-during");
      expect(keyed.rawMessage).toContain(
        'Tenant "acme" is parked until a retry rebuilds its database from the log: ',
      );
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/ready`)).status).toBe(503);

      // Every answer is UNAVAILABLE or all of acme's nodes.
      expect(
        await countWhenServed(api, "acme", { timeoutMs: 30_000, everyMs: 50, logs: server.logs }),
      ).toBe(FIRST + SECOND);
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/ready`)).status).toBe(200);
      expect(server.logs()).toContain("tenant applies the log again");
      for (const tenant of ["globex", "initech", "umbrella"])
        expect(await countNodes(api, tenant)).toBe(FIRST + SECOND);
      await api.executePlan({ tenant: "acme", operations: [teamOp("Later", "acme-later")] });
      expect(await countNodes(api, "acme")).toBe(FIRST + SECOND + 1);
    } finally {
      await stopOk(server);
    }
    return dataDir;
  }

  /** acme's file of `dataDir` as a rebuild from the log at start makes it. */
  async function rebuiltAtStart(dataDir: string): Promise<string> {
    const copy = freshDir();
    cpSync(dataDir, copy, { recursive: true });
    removeFile(tenantPath(copy, "acme"));
    const server = await startServerProcess({ dataDir: copy });
    try {
      expect(await countNodes(entDbClient(server), "acme")).toBe(FIRST + SECOND + 1);
    } finally {
      await stopOk(server);
    }
    return canonicalDump(tenantPath(copy, "acme"));
  }

  it("never serves a deleted file's tenant empty, and rebuilds it from the log", async () => {
    const dataDir = await damageLive(
      removeFile,
      /^The database of tenant "acme" is missing, but it had applied the log up to \d+:\d+: it was deleted while the server ran\. The server rebuilds it from the log at its next retry \(or at a restart\)\.$/,
    );
    expect(canonicalDump(tenantPath(dataDir, "acme"))).toBe(await rebuiltAtStart(dataDir));
  }, 90_000);

  it("never serves a tenant whose file was replaced by an older copy, and catches it up", async () => {
    const dataDir = await damageLive(
      (file) => copyDb(oldAcme, file),
      /^The database of tenant "acme" is older than what it applied \(the file is at \d+:\d+, the log was applied up to \d+:\d+\): it was replaced while the server ran\. The server catches it up from the log at its next retry \(or at a restart\)\.$/,
    );
    expect(canonicalDump(tenantPath(dataDir, "acme"))).toBe(await rebuiltAtStart(dataDir));
  }, 90_000);
});

describe("the issue's scenario", () => {
  it("refuses a write that clashes with logged history after tenants/* was deleted", async () => {
    const dataDir = freshDir();
    cpSync(baseline, dataDir, { recursive: true });
    rmSync(join(dataDir, "tenants"), { recursive: true });
    const server = await startServerProcess({ dataDir });
    try {
      const api = entDbClient(server);
      const clash = await connectError(
        api.executePlan({ tenant: "acme", operations: [teamOp("Clash", "acme-3")] }),
      );
      expect(clash.code).toBe(Code.AlreadyExists);
      const user = await connectError(
        api.executePlan({
          tenant: "acme",
          operations: [
            {
              op: {
                case: "createNode",
                value: {
                  typeId: TRACKER.user,
                  fields: {
                    [TRACKER.userEmail]: str("ada@example.com"),
                    [TRACKER.userDisplayName]: str("Another Ada"),
                    [TRACKER.userHandle]: str("ada2"),
                    [TRACKER.userJoinedAt]: {
                      kind: {
                        case: "timestampValue",
                        value: { seconds: 1_700_000_000n, nanos: 0 },
                      },
                    },
                  },
                },
              },
            },
          ],
        }),
      );
      expect(user.code).toBe(Code.AlreadyExists);
      expect(await countNodes(api, "acme")).toBe(FIRST + SECOND);
      expect(await countNodes(api, "acme", TRACKER.user)).toBe(1);
    } finally {
      await stopOk(server);
    }
  }, 60_000);

  it("decides a clashing write logged during the rebuild against the full history", async () => {
    const { dataDir, server, release } = await startHeld((d) =>
      rmSync(join(d, "tenants"), { recursive: true }),
    );
    try {
      const api = entDbClient(server);
      const logged = await api.executePlan({
        tenant: "acme",
        noWait: true,
        operations: [teamOp("Clash", "acme-5")],
      });
      expect(logged.receipt?.applied).toBe(false);
      release();
      const waited = await api.waitForPosition({
        tenant: "acme",
        position: logged.receipt!.position!,
        timeoutMs: 20_000,
      });
      expect(waited.reached).toBe(true);
      const receipt = await api.getReceipt({
        tenant: "acme",
        idempotencyKey: logged.receipt!.idempotencyKey,
      });
      expect(receipt.failure).toMatchObject({
        code: "already_exists",
        reason: "UNIQUE_VIOLATION",
        typeId: TRACKER.team,
        fieldId: TRACKER.teamSlug,
      });
      expect(await countNodes(api, "acme")).toBe(FIRST + SECOND);
    } finally {
      if (existsSync(join(dataDir, "hold"))) release();
      await stopOk(server);
    }
  }, 60_000);
});
