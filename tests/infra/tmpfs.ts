/**
 * Small tmpfs mounts for tests of a full or read-only disk: mount one at a fresh dir, fill
 * it to the last byte, free it again, unmount. Mounting needs root (CI runs as root);
 * {@link canMount} says whether this process may, so a test can skip with a reason.
 */

import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why tmpfs tests cannot run here, or undefined when they can. */
export function cannotMountReason(): string | undefined {
  if (process.platform !== "linux") return "tmpfs mounts need Linux";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root (CI runs as root)";
  return undefined;
}

/** Whether this process can mount a tmpfs. */
export const canMount = cannotMountReason() === undefined;

/** A mounted tmpfs. */
export interface Tmpfs {
  readonly dir: string;
  /** Writes a filler file until the disk has no byte left; returns its path. */
  fill(): string;
  /** Removes what {@link fill} wrote. */
  free(): void;
  /** Unmounts and removes the mount point. Idempotent. */
  unmount(): void;
}

/** Mounts a tmpfs of `sizeBytes` (read-only with `readOnly`) at a fresh temp dir. */
export function mountTmpfs(options: {
  readonly sizeBytes: number;
  readonly readOnly?: boolean;
}): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), "entdb-tmpfs-"));
  const flags = `size=${options.sizeBytes}${options.readOnly === true ? ",ro" : ""}`;
  execFileSync("mount", ["-t", "tmpfs", "-o", flags, "tmpfs", dir]);
  const fillers: string[] = [];
  let mounted = true;
  return {
    dir,
    fill() {
      const path = join(dir, `filler-${fillers.length}`);
      fillers.push(path);
      const fd = openSync(path, "w");
      try {
        // Large writes first, then ever smaller ones, down to the last free byte.
        for (let chunk = 1024 * 1024; chunk >= 1; chunk = Math.floor(chunk / 2)) {
          const bytes = new Uint8Array(chunk);
          for (;;) {
            try {
              if (writeSync(fd, bytes) < chunk) break;
            } catch (error) {
              if ((error as { code?: unknown }).code === "ENOSPC") break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return path;
    },
    free() {
      for (const path of fillers.splice(0)) rmSync(path, { force: true });
    },
    unmount() {
      if (!mounted) return;
      execFileSync("umount", [dir]);
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
