/**
 * The snapshot half of a restore: for each tenant, the newest snapshot at or before
 * the restored end of its partition, checked (sha256, tenant, position) and written
 * into the data dir as the tenant's database. The applier then catches each one up from
 * its own position, skipping the events it already holds (`store/derived-check.ts`,
 * rule 3).
 */

import { writeFileSync } from "node:fs";
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
    const path = join(dataDir, "tenants", tenantFileName(snapshot.tenant));
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
