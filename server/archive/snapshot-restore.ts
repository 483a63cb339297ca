/**
 * The snapshot half of a restore: for each tenant, the newest snapshot at or before
 * the restored end of its partition, checked (sha256, tenant, position) and written
 * into the data dir as the tenant's database. The applier then catches each one up from
 * its own position, skipping the events it already holds (`store/derived-check.ts`,
 * rule 3).
 *
 * A snapshot streams from the bucket through sha256 and gunzip into its file, so memory
 * stays bounded by a few chunks whatever the tenant's size. The sha256 is checked at the
 * end, before the file is used; a mismatch removes the file and names the object, as does
 * a body that does not decompress (the checksum decides which is reported).
 */

import { createHash } from "node:crypto";
import { createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import Database from "better-sqlite3";
import { tenantFileName } from "../store/index.ts";
import { partitionForTenant } from "../wal/index.ts";
import { ArchiveError } from "./archive-error.ts";
import { type ArchiveLocation, objectUrl } from "./archive-location.ts";
import type { ListedObject, ObjectStore } from "./object-store.ts";
import { type ArchivedSnapshot, parseSnapshotKey, snapshotPrefix } from "./snapshot-format.ts";
import { readState } from "./snapshotter.ts";

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
  /**
   * The snapshots' listing ({@link listSnapshots}), when the caller asked for it already
   * (a restore does while it reads the log). An earlier listing will do: a snapshot it
   * misses was uploaded since, and the tenant then starts from an older one (or from
   * nothing) and is applied further along the log, to the same state.
   */
  readonly listed?: Promise<readonly ListedObject[]>;
}): Promise<ArchivedSnapshot[]> {
  const { store, location, dataDir, ends, identity } = options;
  const newest = new Map<string, ArchivedSnapshot>();
  for (const object of await (options.listed ?? listSnapshots(store, location))) {
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
    await fetchSnapshot(store, location, snapshot, path);
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

/** Every object under the archive's snapshot prefix (see {@link placeSnapshots}). */
export function listSnapshots(
  store: ObjectStore,
  location: ArchiveLocation,
): Promise<readonly ListedObject[]> {
  return store.list(snapshotPrefix(location));
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
  await fetchSnapshot(store, location, best.snapshot, path);
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
  location: ArchiveLocation,
  snapshot: ArchivedSnapshot,
  path: string,
): Promise<void> {
  const name = objectUrl(location, snapshot.key);
  const corrupt = (what: string) =>
    new ArchiveError("corrupt", `The archived snapshot ${name} is corrupt: ${what}.`);
  const { body, metadata } = await store.getStream(snapshot.key);
  const hash = createHash("sha256");
  let bytes = 0;
  const gunzip = createGunzip();
  // Settles with the first error of gunzip or the file, or undefined once the file is written.
  const writing = pipeline(gunzip, createWriteStream(path)).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  try {
    // Every byte is hashed, also after gunzip gave up: the checksum names a truncated or
    // altered object better than the decompressor's error does.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      if (gunzip.destroyed) continue;
      if (!gunzip.write(chunk))
        await new Promise<void>((resolve) => {
          const done = () => {
            gunzip.off("drain", done);
            gunzip.off("close", done);
            resolve();
          };
          gunzip.on("drain", done);
          gunzip.on("close", done);
        });
    }
  } catch (error) {
    gunzip.destroy();
    await writing;
    rmSync(path, { force: true });
    throw new ArchiveError(
      "unavailable",
      `Reading the archived snapshot ${name} failed after ${bytes} bytes: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!gunzip.destroyed) gunzip.end();
  const unzipError = await writing;
  const actual = hash.digest("hex");
  if (actual !== metadata["sha256"]) {
    rmSync(path, { force: true });
    throw corrupt(
      `its sha256 is ${actual} but ${metadata["sha256"]} was recorded (${bytes} bytes: truncated or altered)`,
    );
  }
  if (unzipError !== undefined) {
    rmSync(path, { force: true });
    throw corrupt(`it does not decompress (${unzipError.message})`);
  }
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
