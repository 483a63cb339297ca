/**
 * The one home of durable file writes, with one fsync rule for every caller (`entdb
 * lock`, `entdb fmt`, the generated-file writer, the server's schema registry):
 * file contents are fsynced before a rename makes them visible, and the directory is
 * fsynced after, so the rename itself survives a crash. A platform that cannot open or
 * fsync a directory (Windows answers EISDIR or EPERM) skips that step; any other error
 * is thrown, never swallowed.
 *
 * `writeFileAtomic` replaces one file: a temporary file beside the target, fsynced,
 * renamed over it, then the directory fsynced. A crash leaves either the old text or the
 * new, never a mix. An existing target keeps its permissions and a symlink is followed
 * (the link stays a link); a missing target is created, with its directory, mode 0644.
 */

import { randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Atomically replaces (or creates) `path` with `text`. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  let target = path;
  let mode = 0o644;
  try {
    target = await realpath(path);
    mode = (await stat(target)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await mkdir(dirname(path), { recursive: true });
  }
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${randomUUID()}.tmp`);
  try {
    await writeNewFileDurably(tmp, text, mode);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Creates `path` (it must not exist) with `text`, fsynced before it returns. Not visible
 * atomically by itself: callers rename it into place, then {@link fsyncDir}.
 */
export async function writeNewFileDurably(path: string, text: string, mode = 0o644): Promise<void> {
  const file = await open(path, "wx", mode);
  try {
    await file.chmod(mode);
    await file.writeFile(text, "utf8");
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Makes the renames and removals in `dir` durable (see the module comment for the rule). */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM") throw err;
  } finally {
    await handle?.close();
  }
}
