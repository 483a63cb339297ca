/**
 * The one helper for replacing a file durably: write a temporary file beside the
 * target, fsync it, rename it over the target, fsync the directory so the rename
 * itself is durable. A crash leaves either the old text or the new, never a mix.
 * An existing target keeps its permissions and a symlink is followed (the link stays
 * a link); a missing target is created, with its directory, mode 0644.
 */

import { randomUUID } from "node:crypto";
import { mkdir, open, realpath, rename, rm, stat } from "node:fs/promises";
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
    const file = await open(tmp, "wx", mode);
    try {
      await file.chmod(mode);
      await file.writeFile(text, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
