/**
 * The embedded log on a disk that fills up: a commit that fails for lack of space is
 * refused with a message naming the cause, the log reports itself failed, and once
 * space is freed it reopens by itself and takes appends again, with dense offsets and
 * every acknowledged record present exactly once. Runs on a small tmpfs (needs root).
 */

import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import type { WalEntry, WalPosition } from "../../server/wal/wal.ts";
import { WalError } from "../../server/wal/wal.ts";
import type { WalWriterPlacement } from "../../server/wal/wal-writer.ts";
import { canMount, cannotMountReason, mountTmpfs, type Tmpfs } from "../infra/tmpfs.ts";

if (!canMount) console.warn(`wal-disk-full.test.ts skipped: ${cannotMountReason()}`);

const TENANT = "tenant-a";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function payload(label: string): Uint8Array {
  // About a page per record, so a commit always needs fresh blocks of the disk.
  return encoder.encode(label.padEnd(3000, "."));
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejection(promise: Promise<unknown>): Promise<WalError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof WalError)) throw new Error(`expected a WalError, got ${String(error)}`);
  return error;
}

describe.runIf(canMount).each<WalWriterPlacement>(["inline", "thread", "loop"])(
  "embedded log on a full disk (%s writer)",
  (writer) => {
    let disk: Tmpfs | undefined;
    let wal: EmbeddedWal | undefined;

    afterEach(async () => {
      await wal?.close();
      wal = undefined;
      disk?.unmount();
      disk = undefined;
    });

    it("refuses appends while the disk is full and recovers once space is freed", async () => {
      disk = mountTmpfs({ sizeBytes: 4 * 1024 * 1024 });
      const path = join(disk.dir, "log.db");
      wal = await openEmbeddedWal({
        path,
        partitions: 2,
        writer,
        recoveryDelayMs: { first: 50, max: 200 },
      });
      const seen: WalEntry[] = [];
      const subscription = wal.subscribe({
        startOffset: () => 0,
        handler: async (entries) => {
          seen.push(...entries);
        },
      });

      const acked: { label: string; position: WalPosition }[] = [];
      for (let i = 0; i < 10; i++) {
        const [position] = await wal.append([{ tenant: TENANT, payload: payload(`before-${i}`) }]);
        acked.push({ label: `before-${i}`, position: position! });
      }
      expect(wal.failure).toBeUndefined();

      disk.fill();
      const refused = await rejection(wal.append([{ tenant: TENANT, payload: payload("lost") }]));
      expect(refused.code).toBe("unavailable");
      expect(refused.message).toContain(
        `The log ${path} failed: the log's disk is full (SQLITE_FULL).`,
      );
      expect(refused.message).toContain("no restart is needed");
      expect(wal.failure?.code).toBe("unavailable");
      expect(wal.failure?.message).toContain("the log's disk is full");
      // Still full: reopen attempts keep failing, and appends keep being refused at once.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const again = await rejection(wal.append([{ tenant: TENANT, payload: payload("lost-2") }]));
      expect(again.message).toContain("the log's disk is full");
      expect(wal.stats.recoveries).toBe(0);

      disk.free();
      await until(() => wal?.failure === undefined, 10_000);
      expect(wal.stats.recoveries).toBe(1);
      for (let i = 0; i < 5; i++) {
        const [position] = await wal.append([{ tenant: TENANT, payload: payload(`after-${i}`) }]);
        acked.push({ label: `after-${i}`, position: position! });
      }
      // Offsets stay dense across the failure: the refused calls left nothing in the file.
      const partition = wal.partitionFor(TENANT);
      expect(acked.map((a) => a.position)).toEqual(
        acked.map((_, offset) => ({ partition, offset })),
      );
      await until(() => seen.length === acked.length, 10_000);
      const labels = (entries: readonly WalEntry[]) =>
        entries.map((e) => decoder.decode(e.payload).replace(/\.+$/, ""));
      expect(labels(seen)).toEqual(acked.map((a) => a.label));

      await subscription.stop();
      await wal.close();
      wal = undefined;
      const reopened = await openEmbeddedWal({ path, writer });
      try {
        const stored = (await readWalToEnd(reopened))[partition] ?? [];
        expect(labels(stored)).toEqual(acked.map((a) => a.label));
      } finally {
        await reopened.close();
      }
    });

    it("closes while it is failed and the disk is still full", async () => {
      disk = mountTmpfs({ sizeBytes: 1024 * 1024 });
      wal = await openEmbeddedWal({
        path: join(disk.dir, "log.db"),
        writer,
        recoveryDelayMs: { first: 50, max: 200 },
      });
      await wal.append([
        { tenant: TENANT, payload: payload("kept-0") },
        { tenant: TENANT, payload: payload("kept-1") },
      ]);
      // A subscriber one record behind: its next read waits for the recovery.
      let openGate = (): void => {};
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      let delivered = 0;
      const subscription = wal.subscribe({
        startOffset: () => 0,
        maxBatch: 1,
        handler: async (entries) => {
          delivered += entries.length;
          await gate;
        },
      });
      await until(() => delivered === 1, 5_000);
      disk.fill();
      expect((await rejection(wal.append([{ tenant: TENANT, payload: payload("x") }]))).code).toBe(
        "unavailable",
      );
      openGate();
      // Let the subscriber reach its next read, which then waits for the recovery (the
      // disk is still full, so the recovery keeps trying until the close).
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(wal.failure?.code).toBe("unavailable");
      // Closing ends the reopen attempts: it waits for at most the one under way (for the
      // thread writer, a worker start) instead of for the disk to be freed.
      const started = Date.now();
      await wal.close();
      wal = undefined;
      expect(Date.now() - started).toBeLessThan(10_000);
      // Stopped by the close, not failed by a read that found the file closed.
      await expect(subscription.done).resolves.toBeUndefined();
    });
  },
);
