/**
 * The on-disk form of the embedded log: one SQLite database, accessed through one
 * connection. {@link EmbeddedWal} drives it (on its own thread or on a worker); this
 * file only knows SQL, pragmas and what a failure means.
 *
 * Layout: `wal_records(partition_no, log_offset, tenant, payload)` with a unique index on
 * (partition_no, log_offset), and `wal_meta` holding the format version, the partition
 * count, the log's identity (a random id minted at creation) and, once a reopen after a
 * failed commit probed the file, that probe's time. A rowid table rather than WITHOUT
 * ROWID because payloads are often larger than the ~1/20 page that WITHOUT ROWID rows
 * are good for.
 *
 * Invariants:
 * - One connection per file, ever: `locking_mode=EXCLUSIVE` makes the first write take
 *   the file lock and keep it until `close`, so a second opener (another process, or
 *   another connection in this one) gets SQLITE_BUSY, reported as `unavailable`. The
 *   kernel drops the lock when the owning process dies, so a crash never leaves a stale
 *   lock behind. As a side effect SQLite keeps the WAL index in heap memory (no `-shm`).
 * - `journal_mode=WAL` with `synchronous=FULL`: a COMMIT returns only after the WAL file
 *   was fsynced, so a committed transaction survives a crash or power loss (given a disk
 *   that honours fsync).
 * - Offsets are assigned by the caller; the unique index turns a duplicate into an error
 *   instead of a silent second copy.
 * - {@link SqliteWalFile.truncate} deletes a partition's oldest records (local retention,
 *   `server/archive/log-retention.ts`) but never its last one, so the partition end read
 *   at open (the largest stored offset + 1) survives any truncation. The file does not
 *   shrink: SQLite reuses the freed pages for new records.
 * - The `-wal` file is preallocated at open to its checkpoint size
 *   (`wal-file-preallocate.ts`), so a commit's fsync does not also allocate blocks.
 */

import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import type { WalEntry } from "./wal.ts";
import { WalError } from "./wal.ts";
import { preallocateWalFile } from "./wal-file-preallocate.ts";

// `+?`, not `?`, where the planner would read the value: SQLite (built with STAT4) plans
// with the value bound to a bare parameter in LIMIT or compared with an indexed column,
// and then compiles the statement again on every call. `+?` keeps the plans the same.

/** Up to a limit of a partition's records from an offset, in offset order. */
export const WAL_READ_SQL =
  "SELECT log_offset, tenant, payload FROM wal_records" +
  " WHERE partition_no = +? AND log_offset >= +? ORDER BY log_offset LIMIT +?";

/**
 * Deletes up to a limit of a partition's oldest records below two offsets; the second is
 * the last record's, which stays (its offset is the partition end after a reopen).
 */
export const WAL_TRUNCATE_SQL =
  "DELETE FROM wal_records WHERE rowid IN (SELECT rowid FROM wal_records" +
  " WHERE partition_no = +? AND log_offset < +? AND log_offset < +? ORDER BY log_offset LIMIT +?)";

/** One record with its assigned position, as written to the file. */
export interface WalRow {
  readonly partition: number;
  readonly offset: number;
  readonly tenant: string;
  readonly payload: Uint8Array;
}

/** Options for {@link SqliteWalFile.open}. */
export interface SqliteWalFileOptions {
  /** The database file; created if missing. Its directory must exist. */
  readonly path: string;
  /** Partition count for a new file; an existing file must have this count if given. */
  readonly partitions?: number;
  /**
   * Check after opening that the file can commit: one fsynced write of a `wal_meta` row
   * (no record changes). A reopen after a failed commit uses it, so that the log is not
   * declared healthy while its disk is still full.
   */
  readonly probe?: boolean;
  /**
   * The identity of a new file (default: a fresh `embedded:<uuid>`). Restore gives the
   * archived log's, so the restored file is the same log; ignored for an existing file.
   */
  readonly identity?: string;
  /**
   * Who makes commits durable. `"sqlite"` (default): `synchronous=FULL`, SQLite fsyncs
   * the `-wal` file inside every COMMIT and checkpoints by itself. `"caller"`: after
   * opening (schema, identity and probe still written with FULL), the connection runs
   * `synchronous=OFF` with automatic checkpoints off, so a commit only writes; the caller
   * must make each write durable ({@link LogFileSync}) before acknowledging it, and
   * checkpoint only through {@link SqliteWalFile.checkpoint}.
   */
  readonly sync?: "sqlite" | "caller";
  /**
   * Preallocate the `-wal` file (default true; see the module comment). A restore writing
   * the file in bulk, which a server opens (and preallocates) afterwards, passes false.
   */
  readonly preallocate?: boolean;
}

/** Rows per INSERT statement of a commit that has that many (see the constructor). */
const INSERT_ROWS_PER_STATEMENT = 64;

/** Partition count of a new log when none is given. */
export const DEFAULT_PARTITIONS = 8;

const FORMAT_VERSION = "1";

interface MetaRow {
  readonly value: string;
}

interface RecordRow {
  readonly log_offset: number;
  readonly tenant: string;
  readonly payload: Uint8Array;
}

/**
 * An open embedded log file. Synchronous: every method blocks its thread for the SQL
 * (and, for {@link commit}, the fsync). Must be used from one thread only.
 */
export class SqliteWalFile {
  /** Partition count stored in the file. */
  readonly partitions: number;
  /** Per partition, one past the last stored offset, as found when opened. */
  readonly ends: readonly number[];
  /** Per partition, the lowest stored offset (the end, for an empty one), as found when opened. */
  readonly starts: readonly number[];
  /** The log's identity: a random id stored in the file when it was created. */
  readonly identity: string;
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #insert: Database.Statement<[number, number, string, Uint8Array]>;
  readonly #read: Database.Statement<[number, number, number], RecordRow>;
  readonly #commit: (rows: readonly WalRow[]) => void;
  readonly #truncate: Database.Statement<[number, number, number, number]>;

  private constructor(
    db: Database.Database,
    path: string,
    partitions: number,
    ends: readonly number[],
    starts: readonly number[],
    identity: string,
  ) {
    this.#db = db;
    this.#path = path;
    this.partitions = partitions;
    this.ends = ends;
    this.starts = starts;
    this.identity = identity;
    this.#insert = db.prepare(
      "INSERT INTO wal_records (partition_no, log_offset, tenant, payload) VALUES (?, ?, ?, ?)",
    );
    this.#read = db.prepare<[number, number, number], RecordRow>(WAL_READ_SQL);
    this.#truncate = db.prepare(WAL_TRUNCATE_SQL);
    const insert = this.#insert;
    // A large commit (a burst, a restore's segment) goes in statements of
    // INSERT_ROWS_PER_STATEMENT rows: the same rows, in the same order, with about half
    // the CPU of one statement per row (the call into the driver and its bindings).
    const insertMany = db.prepare(
      "INSERT INTO wal_records (partition_no, log_offset, tenant, payload) VALUES" +
        " (?, ?, ?, ?),".repeat(INSERT_ROWS_PER_STATEMENT - 1) +
        " (?, ?, ?, ?)",
    );
    const values = new Array<number | string | Uint8Array>(INSERT_ROWS_PER_STATEMENT * 4);
    this.#commit = db.transaction((rows: readonly WalRow[]) => {
      let i = 0;
      for (; i + INSERT_ROWS_PER_STATEMENT <= rows.length; i += INSERT_ROWS_PER_STATEMENT) {
        for (let j = 0; j < INSERT_ROWS_PER_STATEMENT; j++) {
          const row = rows[i + j]!;
          values[4 * j] = row.partition;
          values[4 * j + 1] = row.offset;
          values[4 * j + 2] = row.tenant;
          values[4 * j + 3] = row.payload;
        }
        insertMany.run(values);
      }
      // Holds no payload past the commit.
      if (i > 0) values.fill(0);
      for (; i < rows.length; i++) {
        const row = rows[i]!;
        insert.run(row.partition, row.offset, row.tenant, row.payload);
      }
    });
  }

  /**
   * Opens (or creates) the file, takes the exclusive lock, and reads the partition ends.
   * Crash recovery happens here: SQLite replays the valid prefix of the `-wal` file.
   */
  static open(options: SqliteWalFileOptions): SqliteWalFile {
    const { path } = options;
    let db: Database.Database | undefined;
    try {
      // timeout 0: a held lock means another owner, and waiting would not change that.
      db = new Database(path, { timeout: 0 });
      // Order matters: EXCLUSIVE before the first WAL access keeps the WAL index in heap
      // memory and makes the lock below stick until close.
      db.pragma("locking_mode = EXCLUSIVE");
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (mode !== "wal") {
        throw new WalError("unavailable", `Could not put the log ${path} in WAL mode (${mode}).`);
      }
      db.pragma("synchronous = FULL");
      // The acknowledgement contract rests on this setting; check it took (2 = FULL).
      const synchronous = db.pragma("synchronous", { simple: true });
      if (synchronous !== 2) {
        throw new WalError(
          "unavailable",
          `Could not set synchronous=FULL on ${path} (${synchronous}).`,
        );
      }
      const { partitions, ends, starts, identity } = initialize(
        db,
        path,
        options.partitions,
        options.identity,
      );
      if (options.probe === true) {
        db.prepare(
          "INSERT INTO wal_meta (key, value) VALUES ('probe', ?)" +
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ).run(new Date().toISOString());
      }
      // The `-wal` file exists from the first write on (the schema's, or BEGIN EXCLUSIVE's).
      if (options.preallocate !== false) preallocateWalFile(`${path}-wal`);
      if (options.sync === "caller") {
        db.pragma("wal_autocheckpoint = 0");
        db.pragma("synchronous = OFF");
        if (db.pragma("synchronous", { simple: true }) !== 0) {
          throw new WalError("unavailable", `Could not set synchronous=OFF on ${path}.`);
        }
      }
      return new SqliteWalFile(db, path, partitions, ends, starts, identity);
    } catch (error) {
      db?.close();
      throw toWalError(error, path);
    }
  }

  /** Writes the rows in one transaction; returns after the fsync. Throws on any failure. */
  commit(rows: readonly WalRow[]): void {
    this.#commit(rows);
  }

  /**
   * Deletes up to `limit` of the oldest records of `partition` below offset `below`, in
   * one transaction (fsynced like a commit), never the partition's last record. Returns
   * how many were deleted. The caller decides what may go (`log-retention.ts`).
   */
  truncate(partition: number, below: number, limit: number): number {
    const last = this.#db
      .prepare<[number], { last: number | null }>(
        "SELECT MAX(log_offset) AS last FROM wal_records WHERE partition_no = ?",
      )
      .get(partition)?.last;
    if (last === null || last === undefined) return 0;
    return this.#truncate.run(partition, below, last, limit).changes;
  }

  /** Up to `limit` stored entries of `partition` from offset `from`, in offset order. */
  read(partition: number, from: number, limit: number): WalEntry[] {
    return this.#read.all(partition, from, limit).map((row) => ({
      tenant: row.tenant,
      // A view, not a copy: the driver hands out a fresh Buffer per value.
      payload: new Uint8Array(row.payload.buffer, row.payload.byteOffset, row.payload.byteLength),
      position: { partition, offset: row.log_offset },
    }));
  }

  /**
   * Copies every frame of the `-wal` file into the database file (the `-wal` file is
   * then rewritten from its start by the next write). Only for `sync: "caller"`, and only
   * when every frame is durable: the database file must be fsynced before the next write.
   */
  checkpoint(): void {
    const [result] = this.#db.pragma("wal_checkpoint(PASSIVE)") as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    // One connection holds the file: nothing can keep a checkpoint from completing.
    if (result === undefined || result.busy !== 0 || result.checkpointed !== result.log) {
      throw new WalError(
        "unavailable",
        `The checkpoint of the log ${this.#path} did not complete (${JSON.stringify(result)}).`,
      );
    }
  }

  /**
   * Checkpoints the WAL into the database file and releases the file and its lock.
   * `unsynced`: with `sync: "caller"`, the closing checkpoint runs without syncs, and the
   * caller must fsync the database file before anything relies on it (a restore, whose
   * data dir is marked unfinished until it has, server/archive/restore.ts).
   */
  close(options: { readonly unsynced?: boolean } = {}): void {
    // With `sync: "caller"`, SQLite's closing checkpoint must fsync before it deletes
    // the `-wal` file, as FULL does.
    if (options.unsynced !== true && this.#db.pragma("synchronous", { simple: true }) !== 2) {
      this.#db.pragma("synchronous = FULL");
    }
    this.#db.close();
  }
}

/**
 * Creates the schema on a new file (one transaction) or checks an existing one, and takes
 * the write lock either way. Writes nothing to an existing, matching file
 * (but the identity, once, to a file made before identities existed).
 */
function initialize(
  db: Database.Database,
  path: string,
  requested: number | undefined,
  newIdentity: string | undefined,
): { partitions: number; ends: number[]; starts: number[]; identity: string } {
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested < 1)) {
    throw new WalError("invalid", `Partition count must be a positive integer, got ${requested}.`);
  }
  // BEGIN EXCLUSIVE takes the write lock now, so a second owner fails at open rather
  // than at its first append; EXCLUSIVE locking mode then keeps it after COMMIT.
  db.exec("BEGIN EXCLUSIVE");
  try {
    const hasMeta = db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'wal_meta'")
      .get();
    let partitions: number;
    if (hasMeta === undefined) {
      partitions = requested ?? DEFAULT_PARTITIONS;
      db.exec(
        "CREATE TABLE wal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);" +
          "CREATE TABLE wal_records (partition_no INTEGER NOT NULL, log_offset INTEGER NOT NULL," +
          " tenant TEXT NOT NULL, payload BLOB NOT NULL);" +
          "CREATE UNIQUE INDEX wal_records_position ON wal_records (partition_no, log_offset);",
      );
      const put = db.prepare("INSERT INTO wal_meta (key, value) VALUES (?, ?)");
      put.run("format", FORMAT_VERSION);
      put.run("partitions", String(partitions));
    } else {
      const meta = db.prepare<[string], MetaRow>("SELECT value FROM wal_meta WHERE key = ?");
      const format = meta.get("format")?.value;
      if (format !== FORMAT_VERSION) {
        throw new WalError(
          "corrupt",
          `The log ${path} has format ${format}; expected ${FORMAT_VERSION}.`,
        );
      }
      partitions = Number(meta.get("partitions")?.value);
      if (!Number.isSafeInteger(partitions) || partitions < 1) {
        throw new WalError("corrupt", `The log ${path} records no valid partition count.`);
      }
      if (requested !== undefined && requested !== partitions) {
        throw new WalError(
          "invalid",
          `The log ${path} has ${partitions} partitions but was opened with ${requested};` +
            " changing the count would move tenants between partitions.",
        );
      }
    }
    // The identity tells derived files (tenant databases, meta.sqlite) which log they came
    // from. A file created before identities existed gets one now, once.
    const stored = db
      .prepare<[string], MetaRow>("SELECT value FROM wal_meta WHERE key = ?")
      .get("log_id")?.value;
    const identity =
      stored ?? (hasMeta === undefined ? newIdentity : undefined) ?? `embedded:${randomUUID()}`;
    if (stored === undefined) {
      db.prepare("INSERT INTO wal_meta (key, value) VALUES ('log_id', ?)").run(identity);
    }
    const ends = new Array<number>(partitions).fill(0);
    const starts = new Array<number>(partitions).fill(0);
    // Each a seek in the (partition_no, log_offset) index, not a scan of it: SQLite reads a
    // lone MIN or MAX of an index's leading column(s) from one end of the index.
    const one = (sql: string) => db.prepare<unknown[], { v: number | null }>(sql);
    for (const bound of [
      one("SELECT MIN(partition_no) AS v FROM wal_records").get()?.v,
      one("SELECT MAX(partition_no) AS v FROM wal_records").get()?.v,
    ]) {
      if (bound !== null && bound !== undefined && (bound < 0 || bound >= partitions)) {
        throw new WalError("corrupt", `The log ${path} holds records of partition ${bound}.`);
      }
    }
    const first = one("SELECT MIN(log_offset) AS v FROM wal_records WHERE partition_no = +?");
    const last = one("SELECT MAX(log_offset) AS v FROM wal_records WHERE partition_no = +?");
    for (let p = 0; p < partitions; p++) {
      const end = last.get(p)?.v;
      if (end === null || end === undefined) continue;
      ends[p] = end + 1;
      starts[p] = first.get(p)?.v ?? end;
    }
    db.exec("COMMIT");
    return { partitions, ends, starts, identity };
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** Runs a synchronous call on the file as a promise, its failure mapped by {@link toWalError}. */
export function settleWalCall<T>(path: string, call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(toWalError(error, path));
  }
}

/** Maps driver errors to what the caller can act on. */
export function toWalError(error: unknown, path: string): WalError {
  if (error instanceof WalError) return error;
  // The driver reports extended result codes (SQLITE_BUSY_RECOVERY, SQLITE_CORRUPT_INDEX…).
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === "string" ? raw : "";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new WalError(
      "unavailable",
      `The log ${path} is open elsewhere; one process (and one EmbeddedWal) owns an embedded log.`,
      { cause: error },
    );
  }
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) {
    return new WalError("corrupt", `The log ${path} is damaged: ${String(error)}`, {
      cause: error,
    });
  }
  return new WalError("unavailable", `The log ${path} failed: ${describeCause(code, error)}.`, {
    cause: error,
  });
}

/**
 * The cause of a driver error in words an operator acts on ("the log's disk is full"),
 * with SQLite's extended code, which says more than the driver's text ("disk I/O error").
 */
function describeCause(code: string, error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT") {
    return `the log's disk is full (${code})`;
  }
  // The loop writer's own fdatasync/fsync report errno codes, not SQLite's.
  if (code === "EIO") return `an I/O error on the log's disk (${code}: ${detail})`;
  if (code === "EROFS") return `the log's file system is read-only (${code})`;
  if (code.startsWith("SQLITE_READONLY")) return `the log's file system is read-only (${code})`;
  if (code === "SQLITE_PERM" || code === "SQLITE_AUTH") return `permission denied (${code})`;
  if (code.startsWith("SQLITE_CANTOPEN")) {
    return `the file cannot be opened: a missing directory or no permission (${code})`;
  }
  if (code.startsWith("SQLITE_IOERR")) return `an I/O error on the log's disk (${code}: ${detail})`;
  return code === "" ? detail : `${detail} (${code})`;
}
