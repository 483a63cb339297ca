/**
 * The one writer of generated output. It writes a set of files all or none, removes
 * the files it generated earlier that are no longer produced, never touches a file it
 * did not generate, and leaves unchanged files alone so their mtimes do not churn.
 *
 * Invariants:
 * - Nothing under the out dir changes before every new file is on disk in a temp file
 *   next to its target (same directory, so the rename is atomic) and fsynced.
 * - The commit replaces targets by rename, keeping a hard link to each replaced or
 *   removed file; any error undoes the renames in reverse, so the previous output is
 *   left exactly as it was (same inodes, same mtimes).
 * - A file is ours only if its first line (or first JSON key) is an entdb header; it is
 *   stale only if that header also names the schema being written.
 *
 * It assumes one writer per out dir at a time. A crash (not an error) in the middle of
 * the commit can leave a mix of old and new files plus dot-prefixed temp or backup
 * files; those carry the header, so the next run replaces or deletes them.
 */

import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  unlink,
} from "node:fs/promises";
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { fsyncDir, writeNewFileDurably } from "../../schema/index.ts";
import { CodegenError } from "../codegen-error.ts";
import type { GeneratedFile } from "./generated-file.ts";
import { assertSafePath } from "./generated-file.ts";
import {
  ENTDB_VERSION,
  generatedHeaderSource,
  hasGeneratedHeader,
  headerText,
  stampHeader,
} from "./header.ts";

/** Options of `writeGenerated`. */
export interface WriteGeneratedOptions {
  /**
   * The schema the files come from, named in every header: relative to the out dir's
   * parent when it lies below it (`examples/tracker/schema.entdb` for out dir
   * `examples/tracker/generated` gives `schema.entdb`), otherwise as given.
   */
  readonly schemaPath: string;
  /** Write nothing; only report what a write would change. */
  readonly check?: boolean;
  /** The version in headers; defaults to this package's version. */
  readonly version?: string;
}

/** How one path differs between the out dir and the new set. */
export type FileChangeKind = "added" | "changed" | "stale";

/** One difference, path relative to the out dir with `/` separators. */
export interface FileChange {
  readonly path: string;
  readonly kind: FileChangeKind;
}

/** What a write did (or, with `check`, would do). Both lists are sorted by path. */
export interface WriteGeneratedResult {
  readonly changes: readonly FileChange[];
  /** New files whose bytes already matched: not rewritten. */
  readonly unchanged: readonly string[];
}

/** Bytes read from the start of a file to look for the header. */
const HEAD_BYTES = 1024;
/** Directories never scanned for stale output. */
const SKIPPED_DIRS = new Set(["node_modules", ".git"]);

/**
 * Stamps `files` with the entdb header and writes them under `outDir` as one set,
 * deleting stale files generated earlier from the same schema. With `check: true` it writes nothing and returns the
 * differences. Throws a `CodegenError`: `unsafe-path`, `unsupported-file`,
 * `not-generated` (a target exists and lacks the header) or `write-failed` (nothing
 * was changed).
 */
export async function writeGenerated(
  outDir: string,
  files: readonly GeneratedFile[],
  options: WriteGeneratedOptions,
): Promise<WriteGeneratedResult> {
  const source = headerSource(outDir, options.schemaPath);
  const wanted = stampAll(files, headerText(source, options.version ?? ENTDB_VERSION));
  const plan = await planWrite(outDir, wanted, source, options.check === true);
  const result: WriteGeneratedResult = {
    changes: [
      ...plan.writes.map((w) => ({ path: w.path, kind: w.kind })),
      ...plan.stale.map((path) => ({ path, kind: "stale" as const })),
    ].sort((a, b) => compare(a.path, b.path)),
    unchanged: plan.unchanged,
  };
  if (options.check === true || result.changes.length === 0) return result;
  await commit(outDir, plan);
  return result;
}

/** The header's `from …` part (see `WriteGeneratedOptions.schemaPath`). */
export function headerSource(outDir: string, schemaPath: string): string {
  const base = dirname(resolve(outDir));
  const rel = relative(base, resolve(schemaPath));
  const inside = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  return (inside ? rel : schemaPath).split(sep).join("/");
}

interface PlannedWrite {
  readonly path: string;
  readonly kind: "added" | "changed";
  readonly content: string;
}

interface WritePlan {
  readonly writes: readonly PlannedWrite[];
  readonly stale: readonly string[];
  readonly unchanged: readonly string[];
}

function stampAll(files: readonly GeneratedFile[], header: string): Map<string, string> {
  const wanted = new Map<string, string>();
  const folded = new Map<string, string>();
  for (const file of files) {
    assertSafePath(file.path);
    // Two paths equal up to case would overwrite each other on macOS and Windows.
    const key = file.path.toLowerCase();
    const other = folded.get(key);
    if (other !== undefined) {
      throw new CodegenError(
        "unsafe-path",
        other === file.path
          ? `Generated file path '${file.path}' is produced twice.`
          : `Generated file paths '${other}' and '${file.path}' differ only in case.`,
      );
    }
    folded.set(key, file.path);
    wanted.set(file.path, stampHeader(file.path, file.content, header));
  }
  return wanted;
}

async function planWrite(
  outDir: string,
  wanted: ReadonlyMap<string, string>,
  source: string,
  check: boolean,
): Promise<WritePlan> {
  const writes: PlannedWrite[] = [];
  const unchanged: string[] = [];
  for (const [path, content] of [...wanted].sort(([a], [b]) => compare(a, b))) {
    const existing = await readExisting(join(outDir, path));
    if (existing === "missing") {
      writes.push({ path, kind: "added", content });
    } else if (existing === "not-a-file") {
      // A directory (or the like) in the way: the commit fails on it and rolls back,
      // with the file system's own message.
      writes.push({ path, kind: "changed", content });
    } else if (existing === content) {
      unchanged.push(path);
    } else if (hasGeneratedHeader(path, existing) || check) {
      writes.push({ path, kind: "changed", content });
    } else {
      throw new CodegenError(
        "not-generated",
        `Refusing to overwrite '${join(outDir, path)}': it has no '@generated by entdb' header, so it was not generated. Move it away or choose another output directory.`,
      );
    }
  }
  const stale: string[] = [];
  for (const path of await listFiles(outDir)) {
    if (wanted.has(path)) continue;
    const head = await readHead(join(outDir, path));
    // Only this schema's leftovers: other schemas may generate into the same directory.
    if (head !== undefined && generatedHeaderSource(path, head) === source) stale.push(path);
  }
  return { writes, stale, unchanged };
}

async function readExisting(target: string): Promise<string | "missing" | "not-a-file"> {
  try {
    return await readFile(target, "utf8");
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    if (code === "EISDIR") return "not-a-file";
    throw writeFailed(`Cannot read '${target}'`, error);
  }
}

/** Regular files below `root`, relative, `/`-separated, sorted; symlinks are not followed. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return;
      throw writeFailed(`Cannot list '${dir}'`, error);
    }
    for (const entry of entries) {
      const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(join(dir, entry.name), rel);
      } else if (entry.isFile()) {
        out.push(rel);
      }
    }
  };
  await walk(root, "");
  return out.sort(compare);
}

async function readHead(path: string): Promise<string | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** One reversible step of the commit. */
type Undo = () => Promise<void>;

async function commit(outDir: string, plan: WritePlan): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const createdDirs: string[] = [];
  const temps = new Map<string, string>();
  const backups: string[] = [];
  const undo: Undo[] = [];
  const touchedDirs = new Set<string>();

  try {
    // Stage: every new file is complete and durable before anything visible changes.
    for (const write of plan.writes) {
      const target = join(outDir, write.path);
      const created = await mkdir(dirname(target), { recursive: true });
      if (created !== undefined) createdDirs.push(created);
      temps.set(write.path, siblingName(target, "tmp", tag));
    }
    // A schema generates a few files per type: their fsyncs overlap instead of queueing.
    await forEachConcurrently(plan.writes, STAGING_CONCURRENCY, (write) =>
      writeNewFileDurably(temps.get(write.path)!, write.content),
    );
    // Commit: renames only, each one undoable.
    for (const write of plan.writes) {
      const target = join(outDir, write.path);
      const temp = temps.get(write.path)!;
      if (write.kind === "changed") {
        const backup = siblingName(target, "bak", tag);
        await link(target, backup);
        backups.push(backup);
        undo.push(() => unlink(backup));
        await rename(temp, target);
        undo.push(() => rename(backup, target));
      } else {
        await rename(temp, target);
        undo.push(() => unlink(target));
      }
      temps.delete(write.path);
      touchedDirs.add(dirname(target));
    }
    for (const path of plan.stale) {
      const target = join(outDir, path);
      const backup = siblingName(target, "bak", tag);
      await rename(target, backup);
      backups.push(backup);
      undo.push(() => rename(backup, target));
      touchedDirs.add(dirname(target));
    }
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    for (const temp of temps.values()) await rm(temp, { force: true }).catch(() => undefined);
    for (const dir of createdDirs.reverse()) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    throw writeFailed(
      `Writing generated files to '${outDir}' failed; the previous output is unchanged`,
      error,
    );
  }

  // The new set is in place; what follows only tidies up.
  for (const backup of backups) await rm(backup, { force: true }).catch(() => undefined);
  for (const path of plan.stale) await removeEmptyParents(outDir, dirname(join(outDir, path)));
  // A folder emptied by the tidy-up is gone: its removal is made durable in its parent.
  const synced = new Set<string>();
  for (const dir of touchedDirs) {
    const existing = await existingAncestor(dir);
    if (synced.has(existing)) continue;
    synced.add(existing);
    await fsyncDir(existing);
  }
}

/** How many staged files are written and fsynced at once. */
const STAGING_CONCURRENCY = 16;

/**
 * Runs `work` on every item, at most `limit` at a time. Once one fails no more are
 * started; the ones in flight finish, then the first failure is thrown, so nothing is
 * still writing when the caller cleans up.
 */
async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * `.name.entdb-tmp-<tag>.ext`: hidden, unique, and with the target's extension, so a
 * leftover from a crash still has a recognizable header and is removed as stale.
 */
function siblingName(target: string, role: "tmp" | "bak", tag: string): string {
  const base = posix.basename(target.split(sep).join("/"));
  const ext = posix.extname(base);
  return join(
    dirname(target),
    `.${base.slice(0, base.length - ext.length)}.entdb-${role}-${tag}${ext}`,
  );
}

/** `dir`, or its nearest ancestor that still exists. */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      await lstat(current);
      return current;
    } catch (err) {
      const parent = dirname(current);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === current) throw err;
      current = parent;
    }
  }
}

async function removeEmptyParents(outDir: string, dir: string): Promise<void> {
  const root = resolve(outDir);
  let current = resolve(dir);
  while (current !== root && current.startsWith(root + sep)) {
    try {
      if ((await lstat(current)).isDirectory()) await rmdir(current);
    } catch {
      return; // not empty (or gone): stop climbing
    }
    current = dirname(current);
  }
}

function writeFailed(message: string, cause: unknown): CodegenError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CodegenError("write-failed", `${message}: ${detail}`, { cause });
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** Code-unit order: the same on every machine, unlike `localeCompare`. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
