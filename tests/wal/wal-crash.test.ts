/**
 * Crash tests of the embedded log: a child process (`wal-crash-child.ts`) appends and
 * prints every acknowledgement; the parent kills it with SIGKILL at random moments,
 * reopens the log and checks what survived against what was acknowledged. A second test
 * damages the `-wal` file left by a killed child and checks that the log reopens to
 * exactly the prefix SQLite's recovery keeps. See docs/durability.md.
 *
 * The kill moments come from a seeded RNG; the seed is printed, and
 * `ENTDB_CRASH_SEED=<seed>` repeats a run's schedule (timing still varies).
 * `ENTDB_CRASH_ROUNDS` changes the number of kills (default 20).
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { partitionForTenant } from "../../server/wal/partition.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import type { WalEntry, WalPosition } from "../../server/wal/wal.ts";
import { crashPayload, crashRecordId, crashRecords, crashTenant } from "./crash-records.ts";
import { readWalFrames } from "./sqlite-wal-frames.ts";
import type { CrashChildConfig } from "./wal-crash-child.ts";

const CHILD = fileURLToPath(new URL("./wal-crash-child.ts", import.meta.url));
const PARTITIONS = 4;
const SEED = Number(process.env["ENTDB_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env["ENTDB_CRASH_ROUNDS"] ?? "20");

/** mulberry32: small, seedable, good enough to spread kill moments. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** When the parent kills the child. */
type KillPlan =
  | { readonly after: "spawn"; readonly ms: number }
  | { readonly after: "acks"; readonly acks: number; readonly ms: number }
  | { readonly after: "done" };

/** What a killed child printed. */
interface ChildRun {
  /** Acknowledged calls in the order the child printed them. */
  readonly acks: readonly { readonly call: string; readonly positions: readonly WalPosition[] }[];
  readonly ready: boolean;
}

function runChild(config: CrashChildConfig, plan: KillPlan): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const kill = (): void => {
      child.kill("SIGKILL");
    };
    let stdout = "";
    let stderr = "";
    const acks: { call: string; positions: WalPosition[] }[] = [];
    let ready = false;
    if (plan.after === "spawn") setTimeout(kill, plan.ms);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      let newline = stdout.indexOf("\n");
      while (newline >= 0) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        newline = stdout.indexOf("\n");
        const [word, call, ...positions] = line.split(" ");
        if (word === "ready") {
          ready = true;
        } else if (word === "done") {
          if (plan.after === "done") kill();
        } else if (word === "ack" && call !== undefined) {
          acks.push({
            call,
            positions: positions.map((p) => {
              const [partition, offset] = p.split("/").map(Number) as [number, number];
              return { partition, offset };
            }),
          });
          if (plan.after === "acks" && acks.length === plan.acks) setTimeout(kill, plan.ms);
        } else {
          reject(new Error(`Unexpected child output: ${line}`));
        }
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve({ acks, ready });
      else reject(new Error(`The crash child exited by itself (code ${code}):\n${stderr}`));
    });
  });
}

/**
 * Checks a reopened log against what was acknowledged; returns the calls present with
 * their positions, and the broken invariants (empty when all hold): offsets dense from 0;
 * every record well-formed, unique, of the right tenant and partition; a call wholly
 * present or absent, its records contiguous; every acknowledged call present at its
 * acknowledged positions; per appender, the calls present are a prefix of its sequence,
 * at most one past its last acknowledgement, in offset order.
 * Plain comparisons rather than `expect` per record: a round holds thousands of them.
 */
function verify(
  stored: readonly WalEntry[][],
  acked: ReadonlyMap<string, readonly WalPosition[]>,
  maxFiller: number,
): { calls: Map<string, WalPosition[]>; problems: string[] } {
  const problems: string[] = [];
  const calls = new Map<string, WalPosition[]>();
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  const at = (p: WalPosition | undefined): string =>
    p === undefined ? "-" : `${p.partition}/${p.offset}`;
  stored.forEach((entries, partition) => {
    entries.forEach((entry, index) => {
      const where = `${partition}/${index}`;
      if (at(entry.position) !== where)
        problems.push(`entry ${where} claims ${at(entry.position)}`);
      const id = crashRecordId(entry.payload);
      if (id === undefined) {
        problems.push(`record at ${where} has no id`);
        return;
      }
      const name = `${id.call}.${id.index}/${id.count}`;
      if (seen.has(name)) problems.push(`record ${name} is stored twice (again at ${where})`);
      seen.add(name);
      if (Buffer.compare(entry.payload, crashPayload(name, maxFiller)) !== 0) {
        problems.push(`record ${name} at ${where} has a damaged payload`);
      }
      if (entry.tenant !== crashTenant(id.loop))
        problems.push(`record ${name} has tenant ${entry.tenant}`);
      if (partitionForTenant(entry.tenant, PARTITIONS) !== partition) {
        problems.push(`record ${name} is in partition ${partition}, not its tenant's`);
      }
      const positions = calls.get(id.call) ?? [];
      positions[id.index] = entry.position;
      calls.set(id.call, positions);
      counts.set(id.call, id.count);
    });
  });
  const perLoop = new Map<string, number[]>();
  for (const [call, positions] of calls) {
    const first = positions[0];
    const expected = Array.from({ length: counts.get(call)! }, (_, j) =>
      first === undefined ? "-" : `${first.partition}/${first.offset + j}`,
    );
    const actual = Array.from({ length: Math.max(positions.length, expected.length) }, (_, j) =>
      at(positions[j]),
    );
    if (actual.join() !== expected.join()) {
      problems.push(`call ${call} is torn or not contiguous: ${actual.join()}`);
    }
    const key = call.slice(0, call.lastIndexOf("."));
    const seqs = perLoop.get(key) ?? [];
    seqs.push(Number(call.slice(key.length + 1)));
    perLoop.set(key, seqs);
  }
  const ackedPerLoop = new Map<string, number>();
  for (const [call, positions] of acked) {
    const stored = calls.get(call);
    if (stored === undefined) problems.push(`acknowledged call ${call} is missing`);
    else if (stored.map(at).join() !== positions.map(at).join()) {
      problems.push(`acknowledged call ${call} is at ${stored.map(at)}, not ${positions.map(at)}`);
    }
    const key = call.slice(0, call.lastIndexOf("."));
    ackedPerLoop.set(key, (ackedPerLoop.get(key) ?? 0) + 1);
  }
  for (const [key, seqs] of perLoop) {
    seqs.sort((x, y) => x - y);
    if (seqs.some((seq, i) => seq !== i)) problems.push(`appender ${key} has gaps: ${seqs}`);
    const offsets = seqs.map((seq) => calls.get(`${key}.${seq}`)?.[0]?.offset ?? -1);
    if (offsets.some((offset, i) => i > 0 && offset <= offsets[i - 1]!)) {
      problems.push(`appender ${key} is out of order: ${offsets}`);
    }
    const unacknowledged = seqs.length - (ackedPerLoop.get(key) ?? 0);
    if (unacknowledged < 0 || unacknowledged > 1) {
      problems.push(`appender ${key} has ${unacknowledged} unacknowledged calls stored`);
    }
  }
  return { calls, problems };
}

async function readLog(path: string): Promise<WalEntry[][]> {
  // A child killed before it created the log leaves none; this then creates an empty one.
  const wal = await openEmbeddedWal({ path, partitions: PARTITIONS });
  try {
    return await readWalToEnd(wal);
  } finally {
    await wal.close();
  }
}

/** The crash rounds cycle through every writer placement. */
const WRITERS = ["inline", "thread", "loop"] as const;
describe("embedded WAL crash safety", () => {
  const dir = mkdtempSync(join(tmpdir(), "entdb-wal-crash-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`keeps every acknowledged append across ${ROUNDS} SIGKILLs (seed ${SEED})`, async () => {
    console.log(`wal crash test seed: ${SEED} (ENTDB_CRASH_SEED=${SEED} repeats it)`);
    const random = rng(SEED);
    const path = join(dir, "killed.db");
    const acked = new Map<string, readonly WalPosition[]>();
    const maxFiller = 1200;
    let killedWhileAppending = 0;
    let killedBeforeOpen = 0;
    let stored = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      // Most kills land while appending (a random time after a random number of
      // acknowledgements); some while the child starts, opens and recovers the log.
      const plan: KillPlan =
        random() < 0.15
          ? { after: "spawn", ms: Math.floor(random() * 600) }
          : { after: "acks", acks: 1 + Math.floor(random() * 300), ms: Math.floor(random() * 20) };
      const run = await runChild(
        {
          path,
          partitions: PARTITIONS,
          writer: WRITERS[round % WRITERS.length]!,
          round,
          mode: "loops",
          loops: 24,
          count: 0,
          maxFiller,
        },
        plan,
      );
      for (const { call, positions } of run.acks) acked.set(call, positions);
      if (run.acks.length > 0) killedWhileAppending++;
      if (!run.ready) killedBeforeOpen++;
      const log = await readLog(path);
      stored = log.flat().length;
      const { calls, problems } = verify(log, acked, maxFiller);
      expect(problems, `round ${round} (${JSON.stringify(plan)})`).toEqual([]);
      expect(calls.size).toBeGreaterThanOrEqual(acked.size);
    }
    console.log(
      `wal crash test: ${ROUNDS} kills, ${killedWhileAppending} while appending,` +
        ` ${killedBeforeOpen} before the log was open;` +
        ` ${acked.size} acknowledged calls, ${stored} records stored`,
    );
    expect(killedWhileAppending).toBeGreaterThan(0);
  }, 120_000);

  it("reopens a damaged -wal file to the prefix SQLite's recovery keeps, never losing checkpointed records", async () => {
    const path = join(dir, "damaged.db");
    const maxFiller = 300;
    // Base records, checkpointed into the database file by close.
    const base = new Map<string, readonly WalPosition[]>();
    const wal = await openEmbeddedWal({ path, partitions: PARTITIONS });
    for (let seq = 0; seq < 10; seq++) {
      base.set(`0.0.${seq}`, await wal.append(crashRecords(0, 0, seq, maxFiller)));
    }
    await wal.close();
    const run = await runChild(
      {
        path,
        partitions: PARTITIONS,
        writer: "inline",
        round: 1,
        mode: "sequential",
        loops: 1,
        count: 30,
        maxFiller,
      },
      { after: "done" },
    );
    expect(run.acks.length).toBe(30);
    const database = readFileSync(path);
    const log = readFileSync(`${path}-wal`);
    const { pageSize, commits } = readWalFrames(log);
    // One transaction per acknowledged append: the child appended one call at a time.
    expect(commits.length).toBe(30);

    const flipped = (bytes: Buffer, at: number): Buffer => {
      const copy = Buffer.from(bytes);
      copy[at] = copy[at]! ^ 0xff;
      return copy;
    };
    const cases: { name: string; wal: Buffer | undefined; survivors: number }[] = [
      { name: "undamaged", wal: log, survivors: 30 },
      {
        name: "last transaction torn",
        wal: log.subarray(0, commits[29]!.start + 24 + pageSize / 2),
        survivors: 29,
      },
      {
        name: "bad checksum in transaction 12",
        wal: flipped(log, commits[12]!.start + 24 + 100),
        survivors: 12,
      },
      {
        name: "header destroyed",
        wal: Buffer.concat([Buffer.alloc(32), log.subarray(32)]),
        survivors: 0,
      },
      { name: "-wal file lost", wal: undefined, survivors: 0 },
    ];
    for (const damage of cases) {
      const copy = join(mkdtempSync(join(dir, "case-")), "log.db");
      writeFileSync(copy, database);
      if (damage.wal !== undefined) {
        writeFileSync(`${copy}-wal`, damage.wal);
        expect(readWalFrames(damage.wal).commits.length, damage.name).toBe(damage.survivors);
      }
      const expected = new Map([
        ...base,
        ...run.acks.slice(0, damage.survivors).map((a) => [a.call, a.positions] as const),
      ]);
      const { calls, problems } = verify(await readLog(copy), expected, maxFiller);
      expect(problems, damage.name).toEqual([]);
      expect([...calls.keys()].sort(), damage.name).toEqual([...expected.keys()].sort());
      // The log stays usable: the next append continues at the recovered end.
      const again = await openEmbeddedWal({ path: copy });
      const [position] = await again.append(crashRecords(2, 0, 0, maxFiller).slice(0, 1));
      const partition = partitionForTenant(crashTenant(0), PARTITIONS);
      const end = [...calls.values()].flat().filter((p) => p.partition === partition).length;
      expect(position, damage.name).toEqual({ partition, offset: end });
      await again.close();
    }
  }, 120_000);
});
