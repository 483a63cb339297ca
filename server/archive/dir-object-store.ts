/**
 * An archive in a local directory (a second disk, an NFS mount): the {@link ObjectStore}
 * the archiver, the snapshotter and restore use, over plain files. A key is a path under
 * the root (`wal/p00003/…seg.gz` is `ROOT/wal/p00003/…seg.gz`); a key that would leave
 * the root, or name a hidden file, is refused.
 *
 * Guarantees, as `S3ObjectStore`'s:
 * - `putIfAbsent` never overwrites. An object is written whole to a temp file in its
 *   directory and synced, then `link()`ed to its key: `link` fails with EEXIST if the
 *   name exists, atomically, so of two writers exactly one answers "created" and the
 *   other "exists", and a reader sees a whole object or none. Then the temp name is
 *   removed and the directory synced, so a "created" object survives a power loss.
 * - Metadata travels in the object's own file, in one header line before the body
 *   (`{"entdb-object":1,"metadata":{…}}\n`): it appears with the body in the same
 *   `link`, never one without the other. `get`, `getStream` and `list` return the body
 *   and its size without the header, so the store answers as S3 does.
 * - `list` returns every key under a prefix in lexical order, with the body's size and
 *   the file's modification time; temp files (hidden names) are not keys.
 * - `putFileIfAbsent` and `getStream` move a file in chunks, never whole in memory.
 * - Failures of the file system (ENOSPC, EIO, EACCES, EROFS, a root that has gone: an
 *   unmounted disk) are `ArchiveError` "unavailable", naming the path and the cause, so
 *   the archiver retries them as it does S3's; a root that has gone is never made again
 *   by a put (that would archive to the disk under the mount point).
 *
 * Not provided: object lock (`retainUntil` is refused, "invalid"); a directory on the
 * data dir's disk is no backup of it. Assumes one archiver per log, as S3 does, and a file
 * system whose `link` is atomic (local ones and NFS are). A crash between the temp file
 * and its link leaves a hidden `.KEY.….tmp` file, which nothing reads and which may be
 * deleted.
 */

import { randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import { type FileHandle, link, lstat, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ArchiveError } from "./archive-error.ts";
import type { ArchiveLocation, DirArchiveLocation } from "./archive-location.ts";
import { checkArchiveDir, describeFsError } from "./dir-archive-check.ts";
import { encodeHeader, readFully, readHeader, syncDir, writeAll } from "./dir-object-file.ts";
import type { ListedObject, ObjectStore, StoredObject, StreamedObject } from "./object-store.ts";

/** Chunk size of `putFileIfAbsent`'s copy. */
const COPY_CHUNK_BYTES = 1024 * 1024;
/** Files whose headers `list` reads at once. */
const LIST_CONCURRENCY = 32;

/** The object store over a directory; see the module comment. */
export class DirObjectStore implements ObjectStore {
  readonly location: DirArchiveLocation;
  readonly #root: string;

  private constructor(location: DirArchiveLocation) {
    this.location = location;
    this.#root = location.root;
  }

  /**
   * Opens the archive at `location`. With `create`, makes its directory if it is missing
   * (its parent must exist: a missing parent is more likely an unmounted disk than a
   * directory to make); otherwise a missing directory is "not-found".
   */
  static async open(
    location: ArchiveLocation,
    options: { readonly create: boolean },
  ): Promise<DirObjectStore> {
    if (location.kind !== "dir")
      throw new ArchiveError(
        "invalid",
        `${location.url} is not a directory; open it with S3ObjectStore.`,
      );
    const root = location.root;
    if (options.create) {
      checkArchiveDir(location);
      try {
        await mkdir(root);
        await syncDir(dirname(root));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST")
          throw new ArchiveError(
            "unavailable",
            `Cannot make the archive directory ${root}: ${describeFsError(error)}.`,
            { cause: error },
          );
      }
    }
    const store = new DirObjectStore(location);
    await store.#checkRoot("not-found");
    return store;
  }

  async putIfAbsent(
    key: string,
    body: Uint8Array,
    metadata: Readonly<Record<string, string>>,
    options: { readonly retainUntil?: Date } = {},
  ): Promise<"created" | "exists"> {
    if (options.retainUntil !== undefined)
      throw new ArchiveError(
        "invalid",
        `A directory archive (${this.#root}) has no object lock: --archive-lock-days needs an s3:// archive in a bucket with object lock.`,
      );
    return this.#put(key, metadata, async (out, at) => {
      await writeAll(out, body, at);
    });
  }

  async putFileIfAbsent(
    path: string,
    key: string,
    metadata: Readonly<Record<string, string>>,
  ): Promise<"created" | "exists"> {
    let source: FileHandle;
    try {
      source = await open(path, "r");
    } catch (error) {
      throw new ArchiveError("unavailable", `Cannot read ${path}: ${describeFsError(error)}.`, {
        cause: error,
      });
    }
    try {
      return await this.#put(key, metadata, async (out, at) => {
        const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
        for (let offset = 0; ; ) {
          const { bytesRead } = await source.read(chunk, 0, chunk.length, offset);
          if (bytesRead === 0) break;
          await writeAll(out, chunk.subarray(0, bytesRead), at + offset);
          offset += bytesRead;
        }
      });
    } finally {
      await source.close();
    }
  }

  async get(key: string): Promise<StoredObject> {
    const path = this.#path(key);
    const file = await this.#openObject(path);
    try {
      const { metadata, headerBytes, size } = await readHeader(file, path);
      const all = Buffer.allocUnsafe(size - headerBytes);
      await readFully(file, all, headerBytes, path);
      return { body: all, metadata };
    } catch (error) {
      throw this.#failure(`read ${path}`, error);
    } finally {
      await file.close();
    }
  }

  async getStream(key: string): Promise<StreamedObject> {
    const path = this.#path(key);
    const file = await this.#openObject(path);
    try {
      const { metadata, headerBytes, size } = await readHeader(file, path);
      // The stream owns the handle from here and closes it at its end or error.
      const body = file.createReadStream({ start: headerBytes, autoClose: true });
      return { body, metadata, size: size - headerBytes };
    } catch (error) {
      await file.close();
      throw this.#failure(`read ${path}`, error);
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    checkKey(prefix, true);
    await this.#checkRoot("unavailable");
    const start = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const files: string[] = [];
    try {
      await this.#walk(start, prefix, files);
      const listed: ListedObject[] = [];
      for (let i = 0; i < files.length; i += LIST_CONCURRENCY)
        for (const o of await Promise.all(
          files.slice(i, i + LIST_CONCURRENCY).map((k) => this.#listed(k)),
        ))
          if (o !== undefined) listed.push(o);
      return listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    } catch (error) {
      throw this.#failure(`list ${join(this.#root, prefix)}`, error);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    await this.#checkRoot("unavailable");
    try {
      await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw this.#failure(`delete ${path}`, error);
    }
  }

  close(): void {}

  /** Collects the keys under `dir` (a key prefix ending in "/" or "") that start with `prefix`. */
  async #walk(dir: string, prefix: string, out: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.#root, dir), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue; // temp files, and no key is hidden
      const key = `${dir}${entry.name}`;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.#walk(sub, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix)) out.push(key);
    }
  }

  /**
   * A listed file's size (its body's) and time; undefined if it went meanwhile. A file
   * without a header (not written by the store) is listed at its whole size, as S3 lists
   * any object under a prefix: what reads it by its key finds it corrupt, named.
   */
  async #listed(key: string): Promise<ListedObject | undefined> {
    const path = join(this.#root, key);
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined; // deleted
      throw error;
    }
    try {
      const { headerBytes, size, modified } = await readHeader(file, path);
      return { key, size: size - headerBytes, modified };
    } catch (error) {
      if (!(error instanceof ArchiveError && error.code === "corrupt")) throw error;
      const info = await file.stat();
      return { key, size: info.size, modified: info.mtimeMs };
    } finally {
      await file.close();
    }
  }

  /**
   * Writes a temp file (header, then `body` from offset `at`), syncs it and links it to
   * `key`'s path; see the module comment.
   */
  async #put(
    key: string,
    metadata: Readonly<Record<string, string>>,
    body: (out: FileHandle, at: number) => Promise<void>,
  ): Promise<"created" | "exists"> {
    const path = this.#path(key);
    await this.#checkRoot("unavailable");
    const dir = dirname(path);
    const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
    let wrote = false;
    try {
      if (await exists(path)) return "exists"; // a retry whose first attempt landed
      await this.#makeDirs(dir);
      const out = await open(temp, "wx");
      wrote = true;
      try {
        const header = encodeHeader(metadata);
        await writeAll(out, header, 0);
        await body(out, header.length);
        await out.sync();
      } finally {
        await out.close();
      }
      let created: boolean;
      try {
        await link(temp, path);
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        // Over NFS a retransmitted link can answer EEXIST for its own success.
        const [a, b] = await Promise.all([stat(temp), stat(path)]);
        created = a.ino === b.ino && a.dev === b.dev;
      }
      if (created) await syncDir(dir);
      return created ? "created" : "exists";
    } catch (error) {
      throw this.#failure(`write ${path}`, error);
    } finally {
      if (wrote) await unlink(temp).catch(() => {});
    }
  }

  /**
   * Makes `dir` (under the root) and its missing parents one level at a time (a recursive
   * `mkdir` reports ENOENT for what is EROFS or EACCES), syncing each parent it changed.
   */
  async #makeDirs(dir: string): Promise<void> {
    const parts = dir.slice(this.#root.length + 1).split("/");
    let at = this.#root;
    for (const part of parts) {
      const parent = at;
      at = join(at, part);
      try {
        await mkdir(at);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw error;
      }
      await syncDir(parent);
    }
  }

  /** Opens an object's file; a missing one is "not-found". */
  async #openObject(path: string): Promise<FileHandle> {
    try {
      return await open(path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        await this.#checkRoot("unavailable");
        throw new ArchiveError("not-found", `${path} does not exist.`, { cause: error });
      }
      throw this.#failure(`read ${path}`, error);
    }
  }

  /** The root must be a directory: a missing one is an unmounted disk, never made again here. */
  async #checkRoot(code: "not-found" | "unavailable"): Promise<void> {
    try {
      if ((await stat(this.#root)).isDirectory()) return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw this.#failure(`use ${this.#root}`, error);
      throw new ArchiveError(
        code,
        code === "not-found"
          ? `There is no archive at ${this.#root}: the directory does not exist.`
          : `The archive directory ${this.#root} does not exist any more (an unmounted disk?); mount it or make it again.`,
        { cause: error },
      );
    }
    throw new ArchiveError(
      "unavailable",
      `The archive directory ${this.#root} is not a directory.`,
    );
  }

  /** The path of `key`, refused ("invalid") if it would leave the root or name a hidden file. */
  #path(key: string): string {
    checkKey(key, false);
    return join(this.#root, key);
  }

  /** An `ArchiveError` as it is, anything else "unavailable" naming what and why. */
  #failure(what: string, error: unknown): ArchiveError {
    if (error instanceof ArchiveError) return error;
    return new ArchiveError(
      "unavailable",
      `Archive directory ${this.#root}: cannot ${what}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

/**
 * A key (or, with `prefix`, a key prefix: "" or ending anywhere) as a relative path: its
 * parts are not empty, `.`, `..` or hidden, so it names a file under the root.
 */
function checkKey(key: string, prefix: boolean): void {
  const parts = key.split("/");
  if (prefix) parts.pop(); // the last part may be empty or partial
  const bad =
    (!prefix && key === "") ||
    key.includes("\0") ||
    key.includes("\\") ||
    parts.some((p) => p === "" || p.startsWith("."));
  if (bad)
    throw new ArchiveError(
      "invalid",
      `'${key}' is not a ${prefix ? "key prefix" : "key"} of a directory archive: each part of it must be a plain name (not empty, '.', '..' or starting with '.').`,
    );
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
