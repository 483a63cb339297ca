/**
 * The contract suite every WAL backend passes: call {@link describeWalContract} from the
 * backend's test file with a {@link WalHarness}. The cases check what `wal.ts` promises,
 * through the {@link Wal} interface only, so a case that fails names a broken promise,
 * not an implementation detail. Backend-specific behaviour (stats, locking, files) is
 * tested beside the backend.
 */

import { afterEach, assert, describe, expect, it } from "vitest";
import { partitionForTenant } from "./partition.ts";
import { readWalToEnd } from "./read-wal.ts";
import type { Wal, WalEntry, WalPosition, WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";

/** Opens logs for the contract suite. */
export interface WalHarness {
  /** Opens a fresh, empty log with the given partition count; each call a new one. */
  open(options: { readonly partitions: number }): Promise<Wal>;
  /** Opens again the log most recently returned by `open`, which the test has closed. */
  reopen(): Promise<Wal>;
  /** The largest record (tenant UTF-8 bytes plus payload bytes) logs from `open` accept. */
  readonly maxRecordBytes: number;
  /** Releases what `open` created; runs after each case, once its logs are closed. */
  cleanup?(): Promise<void>;
  /** Optional fault injection; the cases that need a hook exist only when it is given. */
  readonly faults?: WalFaultHooks;
}

/** Backend-specific ways to damage a log. */
export interface WalFaultHooks {
  /**
   * Simulates the owning process dying while its last `append` was being written: the
   * log must end up closed and on reopen must hold everything before that append and
   * none of it (as if its promise had never resolved). For the embedded log: tear the
   * last transaction in the `-wal` file.
   */
  crashTearingLastAppend(wal: Wal): Promise<void>;
}

const PARTITIONS = 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A record whose payload is `text`, so failures print readable values. */
function rec(tenant: string, text: string): WalRecord {
  return { tenant, payload: encoder.encode(text) };
}

/** Entries as `tenant:payload@partition/offset`, the form assertions compare. */
function show(entries: readonly WalEntry[]): string[] {
  return entries.map(
    (e) => `${e.tenant}:${decoder.decode(e.payload)}@${e.position.partition}/${e.position.offset}`,
  );
}

function at(position: WalPosition): string {
  return `${position.partition}/${position.offset}`;
}

/** `count` distinct tenants that all hash to one partition. */
function tenantsInOnePartition(count: number, partitions: number): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) {
    const tenant = `same-${i}`;
    if (partitionForTenant(tenant, partitions) === 0) found.push(tenant);
  }
  return found;
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function ends(wal: Wal): Promise<number[]> {
  return Promise.all(Array.from({ length: wal.partitions }, (_, p) => wal.endOffset(p)));
}

/** Registers the WAL contract cases for one backend under `describe(name)`. */
export function describeWalContract(name: string, harness: WalHarness): void {
  describe(`${name}: WAL contract`, () => {
    const opened: Wal[] = [];
    const open = async (): Promise<Wal> => {
      const wal = await harness.open({ partitions: PARTITIONS });
      opened.push(wal);
      return wal;
    };
    const reopen = async (): Promise<Wal> => {
      const wal = await harness.reopen();
      opened.push(wal);
      return wal;
    };

    afterEach(async () => {
      // close is idempotent (a case below checks it), so logs a case closed are fine.
      await Promise.all(opened.splice(0).map((wal) => wal.close()));
      await harness.cleanup?.();
    });

    it("reports the partition count it was opened with", async () => {
      const wal = await open();
      expect(wal.partitions).toBe(PARTITIONS);
      expect(await ends(wal)).toEqual([0, 0, 0, 0]);
    });

    it("assigns dense offsets from 0 in each partition, in append order", async () => {
      const wal = await open();
      const tenants = [
        "acme",
        "globex",
        "initech",
        "umbrella",
        "hooli",
        "stark",
        "wayne",
        "tyrell",
      ];
      const expected = new Map<number, string[]>();
      for (let i = 0; i < 40; i++) {
        const tenant = tenants[i % tenants.length]!;
        const [position] = await wal.append([rec(tenant, `r${i}`)]);
        const partition = wal.partitionFor(tenant);
        const list = expected.get(partition) ?? [];
        expect(position).toEqual({ partition, offset: list.length });
        list.push(`${tenant}:r${i}@${partition}/${list.length}`);
        expected.set(partition, list);
      }
      const stored = await readWalToEnd(wal);
      for (let p = 0; p < PARTITIONS; p++) {
        expect(show(stored[p]!)).toEqual(expected.get(p) ?? []);
        expect(await wal.endOffset(p)).toBe(expected.get(p)?.length ?? 0);
      }
    });

    it("resolves an append of no records with no positions", async () => {
      const wal = await open();
      expect(await wal.append([])).toEqual([]);
      expect(await ends(wal)).toEqual([0, 0, 0, 0]);
    });

    it("keeps one tenant's records in call order across concurrent appends", async () => {
      const wal = await open();
      const calls: Promise<WalPosition[]>[] = [];
      for (let i = 0; i < 100; i++) {
        calls.push(wal.append([rec("acme", `a${i}`)]));
        calls.push(wal.append([rec(`other-${i % 7}`, `o${i}`)]));
      }
      const positions = await Promise.all(calls);
      const acme = positions.filter((_, i) => i % 2 === 0).map(([p]) => p!);
      const partition = wal.partitionFor("acme");
      expect(acme.every((p) => p.partition === partition)).toBe(true);
      for (let i = 1; i < acme.length; i++) {
        expect(acme[i]!.offset).toBeGreaterThan(acme[i - 1]!.offset);
      }
      const stored = (await readWalToEnd(wal))[partition]!.filter((e) => e.tenant === "acme");
      expect(stored.map((e) => decoder.decode(e.payload))).toEqual(
        Array.from({ length: 100 }, (_, i) => `a${i}`),
      );
    });

    it("gives one call's records of a tenant contiguous offsets, even mixed with another tenant's", async () => {
      const wal = await open();
      const [a, b] = tenantsInOnePartition(2, PARTITIONS) as [string, string];
      const calls: Promise<WalPosition[]>[] = [];
      for (let i = 0; i < 20; i++) {
        calls.push(
          wal.append([
            rec(`t${i % 5}`, `${i}.0`),
            rec(`t${i % 5}`, `${i}.1`),
            rec(`t${i % 5}`, `${i}.2`),
          ]),
        );
      }
      const mixed = wal.append([
        rec(a, "a0"),
        rec(b, "b0"),
        rec(a, "a1"),
        rec(b, "b1"),
        rec(a, "a2"),
      ]);
      const results = [...(await Promise.all(calls)), await mixed];
      for (const positions of results.slice(0, 20)) {
        expect(positions.map((p) => p.partition)).toEqual(Array(3).fill(positions[0]!.partition));
        expect(positions.map((p) => p.offset - positions[0]!.offset)).toEqual([0, 1, 2]);
      }
      const mixedPositions = results[20]!;
      const aOffsets = [0, 2, 4].map((i) => mixedPositions[i]!.offset);
      const bOffsets = [1, 3].map((i) => mixedPositions[i]!.offset);
      expect(aOffsets.map((o) => o - aOffsets[0]!)).toEqual([0, 1, 2]);
      expect(bOffsets.map((o) => o - bOffsets[0]!)).toEqual([0, 1]);
      const stored = (await readWalToEnd(wal))[0]!;
      const byOffset = new Map(stored.map((e) => [e.position.offset, decoder.decode(e.payload)]));
      expect(aOffsets.map((o) => byOffset.get(o))).toEqual(["a0", "a1", "a2"]);
      expect(bOffsets.map((o) => byOffset.get(o))).toEqual(["b0", "b1"]);
    });

    it("keeps acknowledged records across close and reopen", async () => {
      const wal = await open();
      const records: WalRecord[] = [];
      for (let i = 0; i < 30; i++) {
        const size = [0, 1, 100, 3000][i % 4]!;
        records.push({ tenant: `tenant-${i % 6}`, payload: new Uint8Array(size).fill(i) });
      }
      const positions: WalPosition[] = [];
      for (let i = 0; i < records.length; i += 3) {
        positions.push(...(await wal.append(records.slice(i, i + 3))));
      }
      const before = await ends(wal);
      await wal.close();
      const again = await reopen();
      expect(again.partitions).toBe(PARTITIONS);
      expect(await ends(again)).toEqual(before);
      const stored = (await readWalToEnd(again)).flat();
      const byPosition = new Map(stored.map((e) => [at(e.position), e]));
      expect(stored.length).toBe(records.length);
      records.forEach((record, i) => {
        const entry = byPosition.get(at(positions[i]!));
        expect(entry?.tenant).toBe(record.tenant);
        expect([...(entry?.payload ?? [])]).toEqual([...record.payload]);
      });
      const [next] = await again.append([rec("tenant-0", "after reopen")]);
      const partition = again.partitionFor("tenant-0");
      expect(next).toEqual({ partition, offset: before[partition] });
    });

    it("keeps its identity across close and reopen, and another log has another", async () => {
      const wal = await open();
      const identity = wal.identity;
      expect(identity).toMatch(/^[a-z]+:\S+$/);
      await wal.append([rec("acme", "x")]);
      await wal.close();
      const again = await reopen();
      expect(again.identity).toBe(identity);
      const other = await open();
      expect(other.identity).not.toBe(identity);
    });

    it("delivers every record from offset 0 in order, in batches of at most maxBatch", async () => {
      const wal = await open();
      const appended: string[][] = [[], [], [], []];
      for (let i = 0; i < 25; i++) {
        const tenant = `t${i % 3}`;
        const [p] = await wal.append([rec(tenant, `v${i}`)]);
        appended[p!.partition]!.push(`${tenant}:v${i}@${at(p!)}`);
      }
      const batches: WalEntry[][] = [];
      const sub = wal.subscribe({
        startOffset: () => 0,
        maxBatch: 4,
        handler: async (entries) => {
          batches.push([...entries]);
        },
      });
      await waitFor(() => batches.flat().length === 25, "25 entries");
      await sub.stop();
      await sub.done;
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(4);
        expect(new Set(batch.map((e) => e.position.partition)).size).toBe(1);
      }
      for (let p = 0; p < PARTITIONS; p++) {
        const delivered = batches.flat().filter((e) => e.position.partition === p);
        expect(show(delivered)).toEqual(appended[p]);
      }
    });

    it("starts each partition at the offset startOffset returns for it", async () => {
      const wal = await open();
      for (let i = 0; i < 8; i++) await wal.append([rec("acme", `v${i}`)]);
      const partition = wal.partitionFor("acme");
      const asked: number[] = [];
      const delivered: WalEntry[] = [];
      const sub = wal.subscribe({
        startOffset: async (p) => {
          asked.push(p);
          return p === partition ? 5 : 0;
        },
        handler: async (entries) => {
          delivered.push(...entries);
        },
      });
      await waitFor(() => delivered.length === 3, "3 entries");
      await sub.stop();
      await sub.done;
      expect(asked.sort()).toEqual([0, 1, 2, 3]);
      expect(show(delivered)).toEqual([5, 6, 7].map((o) => `acme:v${o}@${partition}/${o}`));
    });

    it("delivers records appended after subscribing, as they are appended", async () => {
      const wal = await open();
      const delivered: WalEntry[] = [];
      const sub = wal.subscribe({
        startOffset: () => 0,
        handler: async (entries) => {
          delivered.push(...entries);
        },
      });
      const expected: string[] = [];
      for (let i = 0; i < 10; i++) {
        const [p] = await wal.append([rec("live", `n${i}`)]);
        expected.push(`live:n${i}@${at(p!)}`);
        await waitFor(() => delivered.length === i + 1, `live entry ${i}`);
      }
      await sub.stop();
      await sub.done;
      expect(show(delivered)).toEqual(expected);
    });

    it("never runs two handler calls of one partition at once", async () => {
      const wal = await open();
      const [a, b] = tenantsInOnePartition(2, PARTITIONS) as [string, string];
      const running = new Map<number, number>();
      let overlaps = 0;
      const delivered: WalEntry[] = [];
      const sub = wal.subscribe({
        startOffset: () => 0,
        maxBatch: 2,
        handler: async (entries) => {
          const p = entries[0]!.position.partition;
          running.set(p, (running.get(p) ?? 0) + 1);
          if (running.get(p)! > 1) overlaps++;
          await sleep(3);
          delivered.push(...entries);
          running.set(p, running.get(p)! - 1);
        },
      });
      const expected: string[] = [];
      for (let round = 0; round < 6; round++) {
        const batch = [a, b, "else-1", "else-2"].flatMap((t) => [
          rec(t, `${round}x`),
          rec(t, `${round}y`),
        ]);
        const positions = await wal.append(batch);
        batch.forEach((r, i) => {
          expected.push(`${r.tenant}:${decoder.decode(r.payload)}@${at(positions[i]!)}`);
        });
      }
      await waitFor(() => delivered.length === expected.length, "all entries");
      await sub.stop();
      await sub.done;
      expect(overlaps).toBe(0);
      const sortKey = (s: string): [number, number] => {
        const [partition, offset] = s
          .slice(s.lastIndexOf("@") + 1)
          .split("/")
          .map(Number);
        return [partition!, offset!];
      };
      const byPosition = (x: string, y: string): number => {
        const [px, ox] = sortKey(x);
        const [py, oy] = sortKey(y);
        return px - py || ox - oy;
      };
      expect(show(delivered).sort(byPosition)).toEqual(expected.sort(byPosition));
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = delivered
          .filter((e) => e.position.partition === p)
          .map((e) => e.position.offset);
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
    });

    it("rejects done with the handler's error and stops delivering", async () => {
      const wal = await open();
      const boom = new Error("handler failed");
      let calls = 0;
      const sub = wal.subscribe({
        startOffset: () => 0,
        handler: async () => {
          calls++;
          throw boom;
        },
      });
      await wal.append([rec("acme", "first")]);
      await expect(sub.done).rejects.toBe(boom);
      await wal.append([rec("acme", "second")]);
      await sleep(50);
      expect(calls).toBe(1);
      await sub.stop();
    });

    it("stops delivering once stop() resolves", async () => {
      const wal = await open();
      const stopped: WalEntry[] = [];
      const running: WalEntry[] = [];
      const collect = (into: WalEntry[]) =>
        wal.subscribe({
          startOffset: () => 0,
          handler: async (entries) => {
            into.push(...entries);
          },
        });
      const first = collect(stopped);
      const second = collect(running);
      await wal.append([rec("acme", "before")]);
      await waitFor(() => stopped.length === 1 && running.length === 1, "both subscribers");
      await first.stop();
      await expect(first.done).resolves.toBeUndefined();
      await wal.append([rec("acme", "after")]);
      await waitFor(() => running.length === 2, "the running subscriber");
      expect(show(stopped)).toEqual([`acme:before@${wal.partitionFor("acme")}/0`]);
      await second.stop();
      await second.done;
    });

    it("rejects append after close with code closed, and close is idempotent", async () => {
      const wal = await open();
      await wal.append([rec("acme", "kept")]);
      await wal.close();
      await wal.close();
      const error = await wal.append([rec("acme", "late")]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("closed");
    });

    it("rejects an oversized record with too-large and writes nothing of that call", async () => {
      const wal = await open();
      const tenant = "acme";
      const fits = new Uint8Array(harness.maxRecordBytes - tenant.length);
      const tooBig = new Uint8Array(harness.maxRecordBytes - tenant.length + 1);
      const error = await wal
        .append([
          { tenant, payload: new Uint8Array(1) },
          { tenant, payload: tooBig },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("too-large");
      expect(await ends(wal)).toEqual([0, 0, 0, 0]);
      expect(await wal.append([{ tenant, payload: fits }])).toEqual([
        { partition: wal.partitionFor(tenant), offset: 0 },
      ]);
    });

    it("rejects an empty tenant id with invalid and writes nothing of that call", async () => {
      const wal = await open();
      const error = await wal
        .append([rec("acme", "ok"), rec("", "orphan")])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("invalid");
      expect(await ends(wal)).toEqual([0, 0, 0, 0]);
    });

    it("maps tenants to partitions deterministically, as partitionForTenant does, spread evenly", async () => {
      const wal = await open();
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < 1000; i++) {
        const tenant = `tenant-${i}`;
        const partition = wal.partitionFor(tenant);
        expect(wal.partitionFor(tenant)).toBe(partition);
        expect(partition).toBe(partitionForTenant(tenant, PARTITIONS));
        counts[partition]!++;
      }
      for (const count of counts) {
        expect(count).toBeGreaterThan(200);
        expect(count).toBeLessThan(300);
      }
      const [position] = await wal.append([rec("tenant-7", "x")]);
      expect(position!.partition).toBe(partitionForTenant("tenant-7", PARTITIONS));
    });

    it("resolves 64 concurrent callers with unique, dense positions", async () => {
      const wal = await open();
      const all: WalPosition[] = [];
      await Promise.all(
        Array.from({ length: 64 }, async (_, caller) => {
          for (let i = 0; i < 5; i++) {
            all.push(...(await wal.append([rec(`caller-${caller}`, `${caller}.${i}`)])));
          }
        }),
      );
      expect(all.length).toBe(320);
      expect(new Set(all.map(at)).size).toBe(320);
      const end = await ends(wal);
      expect(end.reduce((x, y) => x + y, 0)).toBe(320);
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = all.filter((x) => x.partition === p).map((x) => x.offset);
        expect(offsets.sort((x, y) => x - y)).toEqual(Array.from({ length: end[p]! }, (_, i) => i));
      }
    });

    const faults = harness.faults;
    if (faults !== undefined) {
      it("reopens after a crash that tore the last append, without it and with all before", async () => {
        const wal = await open();
        const expected: string[] = [];
        for (let i = 0; i < 10; i++) {
          const [p] = await wal.append([rec("acme", `v${i}`)]);
          if (i < 9) expected.push(`acme:v${i}@${at(p!)}`);
        }
        await faults.crashTearingLastAppend(wal);
        const again = await reopen();
        const partition = again.partitionFor("acme");
        expect(show((await readWalToEnd(again))[partition]!)).toEqual(expected);
        expect(await again.append([rec("acme", "next")])).toEqual([{ partition, offset: 9 }]);
      });
    }
  });
}
