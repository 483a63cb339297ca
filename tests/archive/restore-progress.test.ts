/**
 * `entdb restore`'s read progress, as a pipe shows it (plain lines): its total is the
 * segments the restore reads, so a restore cut at a position or a time ends at N/N of
 * the segments up to its cut, not at a part of every segment archived.
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  Archiver,
  DirObjectStore,
  listSegments,
  parseArchiveUrl,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { runCommand } from "../e2e/e2e-helpers.ts";
import { REPO_ROOT } from "../e2e/server-process.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  tempDir,
  userFields,
} from "../store/store-fixtures.ts";

/** Plans logged after the schema, one a second from T0_MS + 1 s. */
const PLANS = 40;
/** Records per archived segment: 41 records make 11 segments. */
const SEGMENT_RECORDS = 4;

const dirs: { remove(): void }[] = [];
let archive = "";

beforeAll(async () => {
  const source = tempDir("progress-source");
  dirs.push(source);
  archive = join(source.path, "archive");
  const wal = await openEmbeddedWal({ path: join(source.path, "wal.sqlite"), partitions: 1 });
  const location = parseArchiveUrl(archive);
  const store = await DirObjectStore.open(location, { create: true });
  try {
    await wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
    ]);
    for (let i = 1; i <= PLANS; i++)
      await wal.append([
        {
          tenant: "acme",
          payload: planEvent("acme", `k${i}`, [op.createNode(T.User, `u${i}`, userFields(i))], {
            atMs: T0_MS + i * 1000,
          }),
        },
      ]);
    const archiver = await Archiver.start({
      wal,
      store,
      location,
      log: createLogger("error", () => {}),
      segmentRecords: SEGMENT_RECORDS,
    });
    await archiver.close(60_000);
    expect((await listSegments(store, location, 0)).map((s) => s.first)).toEqual(
      Array.from({ length: 11 }, (_, i) => i * SEGMENT_RECORDS),
    );
  } finally {
    store.close();
    await wal.close();
  }
}, 120_000);

afterAll(() => {
  for (const dir of dirs) dir.remove();
});

/** `entdb restore` from the archive with `args`, its stderr a pipe: its read progress lines. */
async function readProgress(args: readonly string[]): Promise<string[]> {
  const target = tempDir("progress-restored");
  dirs.push(target);
  const run = await runCommand(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "entdb.ts"),
      "restore",
      "--from",
      archive,
      "--data-dir",
      join(target.path, "data"),
      ...args,
    ],
    { cwd: REPO_ROOT, timeout: 120_000 },
  );
  expect(run.code, run.stderr).toBe(0);
  return run.stderr.split("\n").filter((line) => line.startsWith("restore: read "));
}

describe("a restore's read progress", () => {
  it("counts every segment of a whole restore", async () => {
    const lines = await readProgress([]);
    expect(lines.at(-1)).toMatch(/^restore: read 11\/11 segments(, ETA 0 s)?$/);
  }, 120_000);

  it("counts the segments up to a cut at a position, and reads no other", async () => {
    // Offset 13 is in the segment of offsets 12-15: four segments, the fifth starts at 16.
    const lines = await readProgress(["--to-position", "13"]);
    expect(lines.at(-1)).toMatch(/^restore: read 4\/4 segments(, ETA 0 s)?$/);
    // A cut at a segment's last offset reads no segment after it either.
    const atEnd = await readProgress(["--to-position", "15"]);
    expect(atEnd.at(-1)).toMatch(/^restore: read 4\/4 segments(, ETA 0 s)?$/);
  }, 120_000);

  it("ends at all the segments a cut at a time reads", async () => {
    // Offset n holds the plan logged at T0 + n s: the first after T0 + 21.5 s is offset
    // 22, in the sixth segment (offsets 20-23), where the read stops.
    const at = new Date(T0_MS + 21_500).toISOString();
    const lines = await readProgress(["--to-time", at]);
    expect(lines.at(-1)).toMatch(/^restore: read 6\/6 segments(, ETA 0 s)?$/);
  }, 120_000);
});
