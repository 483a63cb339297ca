/**
 * The snapshot half of a restore: for each tenant, the newest snapshot at or before
 * the restored end of its partition, checked (sha256, tenant, position) and written
 * into the data dir as the tenant's database. The applier then catches each one up from
 * its own position, skipping the events it already holds (`store/derived-check.ts`,
 * rule 3).
 */

import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import Database from "better-sqlite3";
import { tenantFileName } from "../store/index.ts";
import { partitionForTenant } from "../wal/index.ts";
import { ArchiveError } from "./archive-error.ts";
import type { ArchiveLocation } from "./archive-location.ts";
import type { ObjectStore } from "./object-store.ts";
import { sha256Hex } from "./segment-format.ts";
import { type ArchivedSnapshot, parseSnapshotKey, snapshotPrefix } from "./snapshot-format.ts";
import { readState } from "./snapshotter.ts";

const gunzipAsync = promisify(gunzip);

/**
 * Places snapshots into `dataDir/tenants`; returns the snapshots used. `ends` are the
 * restored log's partition ends (a snapshot past one is not used); `identity` the log
 * the placed files must name (a cut restore's new log).
 */
export async function placeSnapshots(options: {
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly dataDir: string;
  readonly ends: readonly number[];
  readonly identity: string;
}): Promise<ArchivedSnapshot[]> {
  const { store, location, dataDir, ends, identity } = options;
  const newest = new Map<string, ArchivedSnapshot>();
  for (const object of await store.list(snapshotPrefix(location))) {
    const snapshot = parseSnapshotKey(location, object.key, object.size);
    if (!snapshot) continue;
    const end = ends[partitionForTenant(snapshot.tenant, ends.length)] ?? 0;
    const best = newest.get(snapshot.tenant);
    if (snapshot.position <= end && (!best || snapshot.position > best.position))
      newest.set(snapshot.tenant, snapshot);
  }
  const used: ArchivedSnapshot[] = [];
  for (const snapshot of newest.values()) {
    const path = join(dataDir, "tenants", tenantFileName(snapshot.tenant));
    await fetchSnapshot(store, snapshot, path);
    // A cut restore makes a new log: the file must name it, or the start-up check sets it aside.
    const db = new Database(path);
    try {
      db.prepare("UPDATE derived_from SET log_identity = ? WHERE singleton = 1").run(identity);
    } finally {
      db.close();
    }
    used.push(snapshot);
  }
  return used;
}

/**
 * For a one-tenant restore (a new log holding the schema changes and that tenant's events,
 * renumbered): places the tenant's newest snapshot whose events the new log holds, as
 * `asTenant`, with every position it records (its `tenant_state`, each outcome's) moved
 * to the new log's numbering. `offsets` maps each of the tenant's original offsets (in
 * its partition) to its new one; `end` is one past the last original offset read.
 * Returns the snapshot used, or undefined (then the tenant is applied from its start).
 */
export async function placeTenantSnapshot(options: {
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly dataDir: string;
  readonly tenant: string;
  readonly asTenant: string;
  readonly end: number;
  readonly offsets: ReadonlyMap<number, number>;
  readonly partition: number;
  readonly identity: string;
}): Promise<ArchivedSnapshot | undefined> {
  const { store, location, tenant, offsets } = options;
  let best: { snapshot: ArchivedSnapshot; last: number } | undefined;
  for (const object of await store.list(snapshotPrefix(location, tenant))) {
    const snapshot = parseSnapshotKey(location, object.key, object.size);
    if (!snapshot || snapshot.tenant !== tenant || snapshot.position > options.end) continue;
    if (best && snapshot.position <= best.snapshot.position) continue;
    // The tenant's last event the snapshot holds must be in the new log.
    let last: number | undefined;
    for (const original of offsets.keys()) if (original < snapshot.position) last = original;
    if (last !== undefined) best = { snapshot, last };
  }
  if (!best) return undefined;
  const path = join(options.dataDir, "tenants", tenantFileName(options.asTenant));
  await fetchSnapshot(store, best.snapshot, path);
  const db = new Database(path);
  try {
    const moved = db.transaction(() => {
      db.exec(
        "CREATE TEMP TABLE moved (original INTEGER PRIMARY KEY, renumbered INTEGER NOT NULL)",
      );
      const put = db.prepare("INSERT INTO moved (original, renumbered) VALUES (?, ?)");
      for (const [original, renumbered] of offsets) put.run(original, renumbered);
      const unmapped = db
        .prepare(
          "SELECT COUNT(*) AS n FROM outcomes WHERE log_offset NOT IN (SELECT original FROM moved)",
        )
        .get() as { n: number };
      if (unmapped.n > 0) return false;
      db.prepare(
        "UPDATE outcomes SET log_partition = ?, log_offset = (SELECT renumbered FROM moved WHERE original = outcomes.log_offset)",
      ).run(options.partition);
      db.prepare(
        "UPDATE tenant_state SET tenant = ?, log_partition = ?, applied_offset = ? WHERE singleton = 1",
      ).run(options.asTenant, options.partition, offsets.get(best.last)! + 1);
      db.prepare("UPDATE derived_from SET log_identity = ? WHERE singleton = 1").run(
        options.identity,
      );
      return true;
    })();
    if (!moved) {
      db.close();
      rmSync(path, { force: true });
      return undefined;
    }
  } finally {
    if (db.open) db.close();
  }
  return best.snapshot;
}

/** Downloads a snapshot into `path`, checked by sha256 and against its key. */
async function fetchSnapshot(
  store: ObjectStore,
  snapshot: ArchivedSnapshot,
  path: string,
): Promise<void> {
  const corrupt = (what: string) =>
    new ArchiveError("corrupt", `The archived snapshot ${snapshot.key} is corrupt: ${what}.`);
  const { body, metadata } = await store.get(snapshot.key);
  const actual = sha256Hex(body);
  if (actual !== metadata["sha256"])
    throw corrupt(
      `its sha256 is ${actual} but ${metadata["sha256"]} was recorded (${body.byteLength} bytes: truncated or altered)`,
    );
  let raw: Buffer;
  try {
    raw = await gunzipAsync(body);
  } catch (error) {
    throw corrupt(`it does not decompress (${(error as Error).message})`);
  }
  writeFileSync(path, raw);
  let state: ReturnType<typeof readState>;
  try {
    state = readState(path);
  } catch (error) {
    throw corrupt(`it is not a tenant database (${(error as Error).message})`);
  }
  if (state.tenant !== snapshot.tenant || state.position !== snapshot.position)
    throw corrupt(
      `it holds tenant '${state.tenant}' at ${state.position}, its key names '${snapshot.tenant}' at ${snapshot.position}`,
    );
}
