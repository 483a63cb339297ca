/**
 * The start-up check of the data dir: before anything is opened, the server creates the
 * dir if needed and writes, fsyncs and removes a small file in it, so a dir it cannot
 * write fails start-up with the dir and the cause named ("is read-only", "permission
 * denied", "is on a full disk") instead of SQLite's "disk I/O error" from deeper down.
 * It checks the moment of start only: a disk that fills later is the log's to report
 * (`/ready`, `docs/durability.md`).
 *
 * It also refuses a data dir that an `entdb restore` began and did not finish (killed,
 * failed, or cut by a power loss): such a dir may hold part of the log and tenant files
 * that were never synced, so serving it could continue a log that is not the archive's.
 * The restore writes {@link RESTORE_UNFINISHED} first and removes it last.
 *
 * {@link lockDataDir} makes a data dir one server's: two servers applying one log into the
 * same tenant files would each keep caches and positions the other's writes make stale.
 */

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";

/** The data dir cannot be used; the message names the dir, the cause and the fix. */
export class DataDirError extends Error {
  override readonly name = "DataDirError";
  readonly code = "data-dir";
}

/** Bytes of the probe file: one page, so a disk with no free block fails the check. */
const PROBE_BYTES = 4096;

/** The file an unfinished restore leaves in the data dir; its text says what it restored. */
export const RESTORE_UNFINISHED = "restore-unfinished";

/**
 * Creates `dir` if missing and checks this process can write and fsync a file in it, and
 * that no restore was left unfinished in it.
 */
export function checkDataDir(dir: string): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw dataDirError(path, error);
  }
  const unfinished = join(path, RESTORE_UNFINISHED);
  if (existsSync(unfinished))
    throw new DataDirError(
      `the data dir ${path} holds a restore that did not finish (${readFileSync(unfinished, "utf8").trim()}): it may hold part of the log and unsynced files; run that \`entdb restore\` again with --force, or choose another --data-dir (ENTDB_DATA_DIR).`,
    );
  const probe = join(path, `.entdb-write-check-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, "w");
    writeSync(fd, new Uint8Array(PROBE_BYTES));
    fsyncSync(fd);
  } catch (error) {
    throw dataDirError(path, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(probe, { force: true });
  }
}

function dataDirError(dir: string, error: unknown): DataDirError {
  const code = (error as { code?: unknown } | null)?.code;
  const fix = "; fix that or choose another --data-dir (ENTDB_DATA_DIR).";
  const uid = typeof process.getuid === "function" ? ` by uid ${process.getuid()}` : "";
  const cause =
    code === "EROFS"
      ? `the data dir ${dir} is read-only (EROFS: its file system is mounted read-only)`
      : code === "EACCES" || code === "EPERM"
        ? `permission denied: the data dir ${dir} is not writable${uid} (${code})`
        : code === "ENOSPC" || code === "EDQUOT"
          ? `the data dir ${dir} is on a full disk (${code})`
          : code === "ENOTDIR" || code === "EEXIST"
            ? `the data dir ${dir} is not a directory (${code})`
            : `the data dir ${dir} cannot be written: ${error instanceof Error ? error.message : String(error)}`;
  return new DataDirError(`${cause}${fix}`, { cause: error });
}

/**
 * Refuses to start the embedded log anew in a data dir that holds what an earlier log was
 * applied into (`meta.sqlite`, tenant databases) when that log, `wal.sqlite`, is gone
 * (deleted, moved, or never there because the dir was served with Kafka or Kinesis).
 * Opening would create an empty log with a new identity, the start-up check would set
 * every derived file aside as another log's, and the server would serve empty tenants as
 * if every acknowledged write had never happened. Call it before the log is opened.
 */
export function checkEmbeddedLogPresent(dir: string, logFile: string): void {
  const path = resolve(dir);
  if (existsSync(join(path, logFile))) return;
  const derived: string[] = [];
  if (existsSync(join(path, "meta.sqlite"))) derived.push("meta.sqlite");
  const tenantsDir = join(path, "tenants");
  const tenants = existsSync(tenantsDir)
    ? readdirSync(tenantsDir).filter((name) => name.endsWith(".sqlite")).length
    : 0;
  if (tenants > 0) derived.push(`${tenants} tenant database${tenants === 1 ? "" : "s"}`);
  if (derived.length === 0) return;
  throw new DataDirError(
    `the data dir ${path} has no log (${logFile} is missing) but holds what a log was applied into (${derived.join(", ")}): starting would begin a new, empty log and serve none of the writes it acknowledged. Put ${logFile} back (with its ${logFile}-wal file, if there was one), restore the data dir from the archive (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive), serve it with the log it was made with (--wal kafka or kinesis), or choose another --data-dir (ENTDB_DATA_DIR) to start empty.`,
  );
}

/** The file in a data dir whose lock says a server serves that dir. */
export const SERVE_LOCK = "serve.lock";

/**
 * Takes `dir` for this process until the returned function releases it, or refuses with
 * a {@link DataDirError} when another process holds it. The lock is SQLite's exclusive
 * lock on {@link SERVE_LOCK} (an fcntl lock, as the embedded log's own), so it is released
 * when the process ends, a SIGKILL included, and works for every log backend: with Kafka
 * or Kinesis the data dir holds no file another server would fail to open.
 */
export function lockDataDir(dir: string): () => void {
  const path = resolve(dir);
  let db: Database.Database | undefined;
  try {
    db = new Database(join(path, SERVE_LOCK), { timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    // In exclusive locking mode the lock a write transaction takes is kept until close.
    db.exec("BEGIN EXCLUSIVE; COMMIT");
  } catch (error) {
    db?.close();
    const code = (error as { code?: unknown } | null)?.code;
    if (
      typeof code === "string" &&
      (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    )
      throw new DataDirError(
        `the data dir ${path} is in use by another entdb serve (it holds the lock on ${SERVE_LOCK}); two servers on one data dir would apply the log into the same files. Stop that server first, or choose another --data-dir (ENTDB_DATA_DIR).`,
        { cause: error },
      );
    throw dataDirError(path, error);
  }
  const held = db;
  return () => {
    if (held.open) held.close();
  };
}

/**
 * Whether a running server holds `dir` ({@link lockDataDir}). Creates nothing: a dir
 * without {@link SERVE_LOCK} was never served since it has had one, and is not in use.
 */
export function dataDirInUse(dir: string): boolean {
  const path = join(resolve(dir), SERVE_LOCK);
  if (!existsSync(path)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: 0, fileMustExist: true });
    db.exec("BEGIN EXCLUSIVE; COMMIT");
    return false;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (
      typeof code === "string" &&
      (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    )
      return true;
    throw dataDirError(resolve(dir), error);
  } finally {
    db?.close();
  }
}

/** Marks `dir` as holding a restore in progress (durably: the file and the dir are synced). */
export function markRestoreUnfinished(dir: string, what: string): void {
  writeFileSync(join(dir, RESTORE_UNFINISHED), `${what}\n`, { flush: true });
  syncDir(dir);
}

/** Removes the mark once everything the restore wrote is durable. */
export function clearRestoreUnfinished(dir: string): void {
  rmSync(join(dir, RESTORE_UNFINISHED), { force: true });
  syncDir(dir);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
