/**
 * One object of a directory archive as a file: a header line holding its metadata
 * (`{"entdb-object":1,"metadata":{…}}\n`), then its bytes. JSON escapes line breaks, so
 * the first newline ends the header. The metadata is in the object's own file so that it
 * appears with the bytes in one `link` (`dir-object-store.ts`).
 */

import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { ArchiveError } from "./archive-error.ts";

/** The header line's format tag. */
const FORMAT = "entdb-object";
/** A header longer than this is not one (metadata is a few hundred bytes). */
const MAX_HEADER_BYTES = 64 * 1024;

/** The header line of an object with `metadata`. */
export function encodeHeader(metadata: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(`${JSON.stringify({ [FORMAT]: 1, metadata })}\n`, "utf8");
}

/** The header of an object's file: its metadata, the header's length and the file's size and time. */
export async function readHeader(
  file: FileHandle,
  path: string,
): Promise<{
  metadata: Record<string, string>;
  headerBytes: number;
  size: number;
  modified: number;
}> {
  const info = await file.stat();
  const head = Buffer.allocUnsafe(Math.min(info.size, MAX_HEADER_BYTES));
  const { bytesRead } = await file.read(head, 0, head.length, 0);
  const end = head.subarray(0, bytesRead).indexOf(0x0a);
  const corrupt = (what: string) =>
    new ArchiveError("corrupt", `The archived object ${path} is corrupt: ${what}.`);
  if (end < 0) throw corrupt("it has no EntDB object header (a file not written by the archive?)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(head.subarray(0, end).toString("utf8"));
  } catch {
    throw corrupt("its header is not JSON");
  }
  const header = parsed as { [FORMAT]?: unknown; metadata?: unknown } | null;
  const metadata = header?.metadata;
  if (
    header?.[FORMAT] !== 1 ||
    typeof metadata !== "object" ||
    metadata === null ||
    Object.values(metadata).some((v) => typeof v !== "string")
  )
    throw corrupt("its header is not an EntDB object header (format 1)");
  return {
    metadata: metadata as Record<string, string>,
    headerBytes: end + 1,
    size: info.size,
    modified: info.mtimeMs,
  };
}

/** Writes all of `bytes` at `at`. */
export async function writeAll(out: FileHandle, bytes: Uint8Array, at: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await out.write(bytes, done, bytes.length - done, at + done);
    done += bytesWritten;
  }
}

/** Fills `into` from `at`; a file that ends first is "unavailable" (it shrank). */
export async function readFully(
  file: FileHandle,
  into: Buffer,
  at: number,
  path: string,
): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await file.read(into, done, into.length - done, at + done);
    if (bytesRead === 0)
      throw new ArchiveError("unavailable", `${path} became shorter while it was read.`);
    done += bytesRead;
  }
}

/** Syncs a directory, so the names made or removed in it survive a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
