/**
 * Periodic per-tenant snapshots, uploaded to the archive beside the log
 * (`snapshot-format.ts`). A restore starts each tenant from its newest snapshot at or
 * before the target and applies only the archived events after it.
 *
 * A snapshot is SQLite's online backup of the tenant database, taken through the
 * store's own connection (better-sqlite3 `backup`, a few pages per turn of the event
 * loop), so the applier keeps writing meanwhile and the copy stays consistent: pages
 * the connection changes during the backup are copied again. The copy's `tenant_state`
 * row says the position it holds; that is the position uploaded. Tenants whose position
 * did not move since their last snapshot are skipped.
 *
 * The copy is a file in `workDir`; it is compressed by a streaming gzip (on the thread
 * pool) into a second file while its sha256 is computed, and that file is uploaded a part
 * at a time (`ObjectStore.putFileIfAbsent`): the sha256 goes in the object's metadata,
 * which S3 takes when an upload begins, so it must be known before. Memory stays bounded
 * by a part whatever the tenant's size; the disk holds the copy and its compressed form
 * until the upload ends.
 *
 * Retention, per tenant, after each upload: snapshots beyond the newest `keep`, and
 * those older than `maxAgeMs`, are deleted, but never the newest.
 */

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import Database from "better-sqlite3";
import type { Logger } from "../log.ts";
import type { ArchiveLocation } from "./archive-location.ts";
import type { ObjectStore } from "./object-store.ts";
import {
  type ArchivedSnapshot,
  parseSnapshotKey,
  snapshotKey,
  snapshotPrefix,
} from "./snapshot-format.ts";

/** What the snapshotter needs of the store. */
export interface SnapshotSource {
  /** The tenants that have a database. */
  tenants(): string[];
  /** The open connection of a tenant's database, or undefined if it cannot be read now. */
  connection(tenant: string): Database.Database | undefined;
}

/** Options of {@link Snapshotter}. */
export interface SnapshotterOptions {
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly source: SnapshotSource;
  readonly log: Logger;
  /** Identity of the log the tenant databases derive from. */
  readonly logIdentity: string;
  /** Where copies are made before upload (removed after). */
  readonly workDir: string;
  /** Time between rounds (0: only when asked). */
  readonly intervalMs: number;
  /** Snapshots kept per tenant, newest first (at least 1). */
  readonly keep: number;
  /** Snapshots older than this are deleted, beyond the newest (undefined: no age limit). */
  readonly maxAgeMs?: number;
}

/** What one tenant's snapshot uploaded. */
export interface SnapshotTaken {
  readonly tenant: string;
  readonly partition: number;
  readonly position: number;
  readonly schemaVersion: number;
  readonly key: string;
  /** Compressed size, as stored. */
  readonly bytes: number;
  /** Size of the database copy before compression. */
  readonly rawBytes: number;
  /** Wall time of each step, ms: online backup, gzip with sha256, upload. */
  readonly ms: { readonly backup: number; readonly compress: number; readonly upload: number };
}

/** Takes snapshots every `intervalMs`; see the module comment. */
export class Snapshotter {
  readonly #options: SnapshotterOptions;
  readonly #last = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #closed = false;
  #taken = 0;

  constructor(options: SnapshotterOptions) {
    this.#options = options;
    mkdirSync(options.workDir, { recursive: true });
  }

  /** Starts the periodic rounds. */
  start(): void {
    if (this.#options.intervalMs <= 0 || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.round()
        .then(() => {})
        .catch((err: unknown) => this.#options.log.error("snapshot round failed", { err }))
        .finally(() => this.start());
    }, this.#options.intervalMs);
  }

  /** Snapshots uploaded since start. */
  get taken(): number {
    return this.#taken;
  }

  /** One round: a snapshot of every tenant whose position moved. Failures are logged per tenant. */
  async round(): Promise<SnapshotTaken[]> {
    const taken: SnapshotTaken[] = [];
    for (const tenant of this.#options.source.tenants()) {
      if (this.#closed) break;
      try {
        const snapshot = await this.snapshot(tenant);
        if (snapshot) taken.push(snapshot);
      } catch (err) {
        this.#options.log.warn("snapshot failed; retried next round", { tenant, err });
      }
    }
    return taken;
  }

  /** Takes and uploads one tenant's snapshot; undefined if its position did not move. */
  async snapshot(tenant: string): Promise<SnapshotTaken | undefined> {
    const { store, location, source, workDir, logIdentity } = this.#options;
    const db = source.connection(tenant);
    if (!db) return undefined;
    const copy = join(workDir, `${tenant}.snapshot.sqlite`);
    const compressed = `${copy}.gz`;
    // Reading the copy's state leaves SQLite's side files beside it; a stale `-wal` left
    // by a crash must not meet the next copy.
    const files = [copy, `${copy}-wal`, `${copy}-shm`, compressed];
    for (const file of files) rmSync(file, { force: true });
    try {
      const started = performance.now();
      await db.backup(copy);
      const backedUp = performance.now();
      const state = readState(copy);
      if (state.tenant !== tenant)
        throw new Error(`the copy of '${tenant}' holds tenant '${state.tenant}'`);
      if (this.#last.get(tenant) === state.position || state.position === 0) return undefined;
      const rawBytes = statSync(copy).size;
      const { sha256, bytes } = await gzipFile(copy, compressed);
      const compressedAt = performance.now();
      const key = snapshotKey(location, tenant, state.position);
      await store.putFileIfAbsent(compressed, key, {
        sha256,
        tenant,
        partition: String(state.partition),
        position: String(state.position),
        "schema-version": String(state.schemaVersion),
        log: logIdentity,
        created: new Date().toISOString(),
      });
      const uploaded = performance.now();
      this.#last.set(tenant, state.position);
      this.#taken++;
      await this.#prune(tenant);
      return {
        ...state,
        key,
        bytes,
        rawBytes,
        ms: {
          backup: backedUp - started,
          compress: compressedAt - backedUp,
          upload: uploaded - compressedAt,
        },
      };
    } finally {
      for (const file of files) rmSync(file, { force: true });
    }
  }

  /** Stops the rounds; waits for the one running. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #prune(tenant: string): Promise<void> {
    const { store, location, keep, maxAgeMs } = this.#options;
    const all: (ArchivedSnapshot & { readonly modified: number })[] = [];
    for (const object of await store.list(snapshotPrefix(location, tenant))) {
      const snapshot = parseSnapshotKey(location, object.key, object.size);
      if (snapshot?.tenant === tenant) all.push({ ...snapshot, modified: object.modified });
    }
    all.sort((a, b) => b.position - a.position);
    const now = Date.now();
    const doomed = all.filter(
      (s, i) => i > 0 && (i >= keep || (maxAgeMs !== undefined && now - s.modified > maxAgeMs)),
    );
    for (const snapshot of doomed) await store.delete(snapshot.key);
  }
}

/**
 * Compresses `from` into `to` as a stream (zlib works on the thread pool, so a large
 * tenant does not hold up the event loop); returns the sha256 and size of `to`.
 */
async function gzipFile(from: string, to: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), createGzip(), tap, createWriteStream(to));
  return { sha256: hash.digest("hex"), bytes };
}

/** The applied state a tenant database file records. */
export function readState(path: string): {
  tenant: string;
  partition: number;
  position: number;
  schemaVersion: number;
} {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        "SELECT tenant, log_partition, applied_offset, schema_version FROM tenant_state WHERE singleton = 1",
      )
      .get() as
      | { tenant: string; log_partition: number; applied_offset: number; schema_version: number }
      | undefined;
    if (!row) throw new Error(`${path} has no tenant_state row`);
    return {
      tenant: row.tenant,
      partition: row.log_partition,
      position: row.applied_offset,
      schemaVersion: row.schema_version,
    };
  } finally {
    db.close();
  }
}
