import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { readWalFrames } from "../../tests/wal/sqlite-wal-frames.ts";
import type { EmbeddedWal } from "./embedded-wal.ts";
import { openEmbeddedWal, TAIL_ENTRIES } from "./embedded-wal.ts";
import { partitionForTenant } from "./partition.ts";
import { readWalToEnd } from "./read-wal.ts";
import type { WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";
import type { WalHarness } from "./wal-contract.ts";
import { describeWalContract } from "./wal-contract.ts";
import type { WalWriterPlacement } from "./wal-writer.ts";

const MAX_RECORD_BYTES = 4096;
const encoder = new TextEncoder();

function rec(tenant: string, text: string): WalRecord {
  return { tenant, payload: encoder.encode(text) };
}

/** Fresh temp dirs per log; `cleanup` removes them. */
function tempDirs(): { make(): string; removeAll(): void } {
  const dirs: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), "entdb-wal-"));
      dirs.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function embeddedHarness(writer: WalWriterPlacement): WalHarness {
  const dirs = tempDirs();
  let path = "";
  return {
    maxRecordBytes: MAX_RECORD_BYTES,
    open: ({ partitions }) => {
      path = join(dirs.make(), "log.db");
      return openEmbeddedWal({ path, partitions, maxRecordBytes: MAX_RECORD_BYTES, writer });
    },
    reopen: () => openEmbeddedWal({ path, maxRecordBytes: MAX_RECORD_BYTES, writer }),
    cleanup: async () => dirs.removeAll(),
    faults: {
      // What a crash leaves is what is in the files now (every commit was fsynced);
      // closing would checkpoint and delete the -wal file, so the image is put back.
      async crashTearingLastAppend(wal) {
        const database = readFileSync(path);
        const log = readFileSync(`${path}-wal`);
        await wal.close();
        const { pageSize, commits } = readWalFrames(log);
        const last = commits.at(-1);
        if (last === undefined) throw new Error("The -wal file holds no transaction to tear.");
        writeFileSync(path, database);
        writeFileSync(`${path}-wal`, log.subarray(0, last.start + 24 + pageSize / 2));
      },
    },
  };
}

describeWalContract("embedded (inline writer)", embeddedHarness("inline"));
describeWalContract("embedded (thread writer)", embeddedHarness("thread"));
describeWalContract("embedded (loop writer)", embeddedHarness("loop"));

describe.each(["inline", "thread", "loop"] as const)("EmbeddedWal with the %s writer", (writer) => {
  const dirs = tempDirs();
  const opened: EmbeddedWal[] = [];
  const open = async (path: string, partitions?: number): Promise<EmbeddedWal> => {
    const wal = await openEmbeddedWal(
      partitions === undefined ? { path, writer } : { path, partitions, writer },
    );
    opened.push(wal);
    return wal;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((wal) => wal.close()));
    dirs.removeAll();
  });

  it("commits appends made in one turn in one transaction", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    const positions = await Promise.all(
      Array.from({ length: 64 }, (_, i) => wal.append([rec(`t${i}`, `v${i}`)])),
    );
    expect(new Set(positions.flat().map((p) => `${p.partition}/${p.offset}`)).size).toBe(64);
    expect(wal.stats).toMatchObject({ appends: 64, records: 64, commits: 1 });
  });

  it("groups the next appends of waiting callers into one commit per round", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    await Promise.all(
      Array.from({ length: 16 }, async (_, caller) => {
        for (let i = 0; i < 10; i++) await wal.append([rec(`c${caller}`, `${i}`)]);
      }),
    );
    expect(wal.stats).toMatchObject({ appends: 160, records: 160, commits: 10 });
  });

  it("commits a lone writer's append at once, and the appends arriving with it next", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    await wal.append([rec("t", "first")]);
    // The last group was one append: the next lone one does not wait for the turn's end,
    // so one made in the same turn after it goes in a commit of its own.
    await Promise.all([wal.append([rec("t", "a")]), wal.append([rec("t", "b")])]);
    expect(wal.stats).toMatchObject({ appends: 3, records: 3, commits: 3 });
    // Three in one turn: the first alone again, the other two as one group after it.
    await Promise.all(["c", "d", "e"].map((v) => wal.append([rec("t", v)])));
    expect(wal.stats).toMatchObject({ appends: 6, records: 6, commits: 5 });
    // The last group was not one append: the appends of a turn are one group again.
    await Promise.all(["f", "g"].map((v) => wal.append([rec("t", v)])));
    expect(wal.stats).toMatchObject({ appends: 8, records: 8, commits: 6 });
  });

  it("serves a subscriber that keeps up from memory, without reading the file", async () => {
    const wal = await open(join(dirs.make(), "log.db"), 1);
    const seen: string[] = [];
    const sub = wal.subscribe({
      startOffset: () => 0,
      handler: async (entries) => {
        for (const e of entries) seen.push(new TextDecoder().decode(e.payload));
      },
    });
    for (let i = 0; i < 50; i++) await wal.append([rec("t", `v${i}`)]);
    await expect.poll(() => seen.length).toBe(50);
    await sub.stop();
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    expect(wal.stats.fileReads).toBe(0);
    expect(wal.stats.memoryReads).toBeGreaterThan(0);
  });

  it("reads a subscriber behind the kept tail from the file, then from memory, in order", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await open(path, 1);
    const batches = Math.ceil((TAIL_ENTRIES * 2) / 500) + 1;
    const total = batches * 500;
    for (let b = 0; b < batches; b++) {
      await wal.append(Array.from({ length: 500 }, (_, j) => rec("t", `v${b * 500 + j}`)));
    }
    const seen: number[] = [];
    const sub = wal.subscribe({
      startOffset: () => 0,
      handler: async (entries) => {
        for (const e of entries) seen.push(e.position.offset);
      },
    });
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(total);
    await sub.stop();
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(wal.stats.fileReads).toBeGreaterThan(0);
    expect(wal.stats.memoryReads).toBeGreaterThan(0);
  });

  it("counts only committed records in endOffset", async () => {
    const wal = await open(join(dirs.make(), "log.db"), 1);
    const pending = wal.append([rec("acme", "a"), rec("acme", "b")]);
    expect(await wal.endOffset(0)).toBe(0);
    await pending;
    expect(await wal.endOffset(0)).toBe(2);
    await expect(wal.endOffset(1)).rejects.toMatchObject({ code: "invalid" });
  });

  it("refuses a second owner of the file in this process until the first closes", async () => {
    const path = join(dirs.make(), "log.db");
    const first = await open(path);
    const error = await openEmbeddedWal({ path, writer }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("unavailable");
    expect((error as WalError).message).toContain("is open elsewhere");
    await first.close();
    const second = await open(path);
    expect(second.partitions).toBe(8);
  });

  it("keeps its partition count and refuses to reopen with another", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await open(path, 3);
    await wal.close();
    const error = await openEmbeddedWal({ path, partitions: 5, writer }).catch((e: unknown) => e);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toContain("has 3 partitions but was opened with 5");
    expect((await open(path)).partitions).toBe(3);
  });

  it("stores its identity in the file, and gives a file made before identities one, once", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await open(path, 2);
    const identity = wal.identity;
    expect(identity).toMatch(
      /^embedded:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    await wal.append([rec("acme", "kept")]);
    await wal.close();
    const raw = new Database(path);
    expect(raw.prepare("SELECT value FROM wal_meta WHERE key = 'log_id'").pluck().get()).toBe(
      identity,
    );
    // What a log written before identities existed looks like.
    raw.prepare("DELETE FROM wal_meta WHERE key = 'log_id'").run();
    raw.close();
    const upgraded = await open(path);
    const minted = upgraded.identity;
    expect(minted).toMatch(/^embedded:/);
    expect(minted).not.toBe(identity);
    expect(await upgraded.endOffset(upgraded.partitionFor("acme"))).toBe(1);
    await upgraded.close();
    expect((await open(path)).identity).toBe(minted);
  });

  it("commits every accepted append before close resolves", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await open(path, 2);
    const appends = Array.from({ length: 20 }, (_, i) => wal.append([rec("acme", `v${i}`)]));
    await wal.close();
    const positions = await Promise.all(appends);
    expect(positions.map(([p]) => p!.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const again = await open(path);
    expect(await again.endOffset(again.partitionFor("acme"))).toBe(20);
  });

  it("ends subscriptions when closed, and rejects new ones with closed", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    const sub = wal.subscribe({ startOffset: () => 0, handler: async () => {} });
    await wal.close();
    await expect(sub.done).resolves.toBeUndefined();
    const late = wal.subscribe({ startOffset: () => 0, handler: async () => {} });
    await expect(late.done).rejects.toMatchObject({ code: "closed" });
  });

  it("rejects a tenant id that is not valid Unicode", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    await expect(wal.append([rec("bad\uD800", "x")])).rejects.toMatchObject({ code: "invalid" });
    expect(wal.stats.commits).toBe(0);
  });

  it("rejects a subscription with a maxBatch below 1", async () => {
    const wal = await open(join(dirs.make(), "log.db"));
    const sub = wal.subscribe({ startOffset: () => 0, maxBatch: 0, handler: async () => {} });
    await expect(sub.done).rejects.toMatchObject({ code: "invalid" });
  });

  it("keeps in memory the committed bytes, not what the caller's buffers hold later", async () => {
    const wal = await open(join(dirs.make(), "log.db"), 4);
    const backing = new Uint8Array(64);
    const records = Array.from({ length: 12 }, (_, i) => {
      // Views into one shared buffer, of tenants in several partitions, in one group.
      const payload = backing.subarray(i * 5, i * 5 + (i % 3) * 2);
      payload.fill(i + 1);
      return { tenant: `t${i % 5}`, payload };
    });
    const expected = new Map(records.map((r, i) => [`t${i % 5}/${i}`, [...r.payload]]));
    const positions = await Promise.all(records.map((r) => wal.append([r])));
    backing.fill(0);
    const seen = new Map<string, number[]>();
    const bufferBytes: number[] = [];
    const sub = wal.subscribe({
      startOffset: () => 0,
      handler: async (entries) => {
        for (const e of entries) {
          const i = positions.findIndex(
            ([p]) => p!.partition === e.position.partition && p!.offset === e.position.offset,
          );
          seen.set(`${e.tenant}/${i}`, [...e.payload]);
          bufferBytes.push(e.payload.buffer.byteLength);
        }
      },
    });
    await expect.poll(() => seen.size).toBe(records.length);
    await sub.stop();
    expect(seen).toEqual(expected);
    expect(wal.stats.fileReads).toBe(0);
    // No kept payload holds the caller's 64-byte buffer (or anything as large) alive.
    expect(Math.max(...bufferBytes)).toBeLessThan(backing.byteLength);
  });

  it("refuses a known tenant's oversized record as it refused it the first time", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await openEmbeddedWal({ path, writer, maxRecordBytes: 8 });
    opened.push(wal);
    const refusal = "Record 0 has 9 bytes; the log accepts at most 8.";
    await expect(wal.append([rec("acme", "abcde")])).rejects.toMatchObject({
      code: "too-large",
      message: refusal,
    });
    await expect(wal.append([rec("acme", "abcd")])).resolves.toHaveLength(1);
    await expect(wal.append([rec("acme", "abcde")])).rejects.toMatchObject({
      code: "too-large",
      message: refusal,
    });
    await expect(wal.append([rec("acme", "a"), rec("bad\uD800", "x")])).rejects.toMatchObject({
      code: "invalid",
      message: "Record 1 has a tenant id that is not valid Unicode.",
    });
    expect(wal.stats).toMatchObject({ appends: 1, records: 1 });
    expect(wal.partitionFor("acme")).toBe(partitionForTenant("acme", wal.partitions));
  });

  it("reads back payloads byte for byte, including empty ones", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await open(path, 1);
    const payloads = [
      new Uint8Array(0),
      Uint8Array.from([0, 255, 0]),
      new Uint8Array(70_000).fill(9),
    ];
    await wal.append(payloads.map((payload) => ({ tenant: "acme", payload })));
    await wal.close();
    const [entries] = await readWalToEnd(await open(path));
    expect(entries!.map((e) => [...e.payload])).toEqual(payloads.map((p) => [...p]));
  });
});

/**
 * Runs only microtasks (no turn of the event loop, so no message event) calling
 * `takeCompletions` until `done()` or `ms` pass; returns whether `done()` became true.
 */
async function settledWithoutTurn(wal: EmbeddedWal, done: () => boolean, ms: number) {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) {
    wal.takeCompletions();
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
  return done();
}

describe("EmbeddedWal with the thread writer, taking a commit's answer early", () => {
  const dirs = tempDirs();
  afterEach(() => dirs.removeAll());

  it("answers a lone append as soon as its commit is done, without a turn of the event loop", async () => {
    const wal = await openEmbeddedWal({ path: join(dirs.make(), "log.db"), writer: "thread" });
    try {
      await wal.append([rec("t", "first")]);
      let position: unknown;
      const appended = wal.append([rec("t", "second")]).then(([p]) => {
        position = p;
      });
      expect(await settledWithoutTurn(wal, () => position !== undefined, 10_000)).toBe(true);
      await appended;
      expect(position).toEqual({ partition: partitionForTenant("t", wal.partitions), offset: 1 });
      expect(await wal.endOffset(partitionForTenant("t", wal.partitions))).toBe(2);
    } finally {
      await wal.close();
    }
  });

  it("leaves a group's commit to the event loop", async () => {
    const wal = await openEmbeddedWal({ path: join(dirs.make(), "log.db"), writer: "thread" });
    try {
      let answered = 0;
      const appends = ["a", "b"].map((v) =>
        wal.append([rec("t", v)]).then(() => {
          answered++;
        }),
      );
      // The group is flushed at the end of this turn; give its commit the time to finish.
      await new Promise((resolve) => setImmediate(resolve));
      expect(await settledWithoutTurn(wal, () => answered > 0, 300)).toBe(false);
      await Promise.all(appends);
      expect(answered).toBe(2);
      expect(wal.stats).toMatchObject({ appends: 2, commits: 1 });
    } finally {
      await wal.close();
    }
  });
});

describe("EmbeddedWal ownership across processes", () => {
  const dirs = tempDirs();
  afterEach(() => dirs.removeAll());

  it("refuses a second owner in another process", async () => {
    const path = join(dirs.make(), "log.db");
    const wal = await openEmbeddedWal({ path });
    try {
      const module = new URL("./embedded-wal.ts", import.meta.url).href;
      const script =
        `const { openEmbeddedWal } = await import(${JSON.stringify(module)});` +
        `await openEmbeddedWal({ path: ${JSON.stringify(path)} }).then(` +
        `() => console.log("opened"), (e) => console.log(e.code));`;
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
      });
      expect(child.stderr).toBe("");
      expect(child.stdout.trim()).toBe("unavailable");
    } finally {
      await wal.close();
    }
  });
});
