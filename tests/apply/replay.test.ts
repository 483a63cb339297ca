/**
 * DESIGN.md contract 8: the derived state is disposable. Replaying the log into an
 * empty data dir gives every tenant database the same canonical dump, byte for byte,
 * whatever the batch sizes, the LRU pressure or the log file the entries come from.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Applier } from "../../server/apply/applier.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import type { Wal } from "../../server/wal/wal.ts";
import { lookupOf, served, TRACKER_V1, TRACKER_V2, tempDir } from "../store/store-fixtures.ts";
import { applyWholeLog } from "./apply-harness.ts";
import { scenario, TENANTS } from "./replay-scenario.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Applies everything in `wal` into `dataDir` and returns each tenant's dump. */
async function materialize(
  wal: Wal,
  dataDir: string,
  options: { maxBatch: number; maxOpenTenants: number },
): Promise<string[]> {
  // The server registers a version before logging events under it, so it serves both.
  const schemas = lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2));
  const store = openStore({ dataDir, schemas, maxOpenTenants: options.maxOpenTenants });
  const applier = new Applier({ wal, store, maxBatch: options.maxBatch });
  await applyWholeLog(applier);
  expect(applier.parkedTenants().map((p) => p.error.message)).toEqual([]);
  store.close();
  return TENANTS.map((t) => canonicalDump(store.tenantPath(t)));
}

function dir(label: string): string {
  const d = tempDir(label);
  cleanups.push(() => d.remove());
  return d.path;
}

/** A fresh two-partition embedded log in a temp dir, closed after the test. */
async function openWal(label: string): Promise<EmbeddedWal> {
  const path = join(dir(label), "wal.sqlite");
  const wal = await openEmbeddedWal({ path, partitions: 2, writer: "inline" });
  cleanups.push(() => wal.close());
  return wal;
}

describe("replaying the log", () => {
  it("gives byte-identical tenant databases for any batch size, LRU pressure or copy of the log", async () => {
    const embedded = await openWal("replay-wal");
    await embedded.append(scenario());
    // A second log file holding every event at the same position: one append per
    // partition, whose records the first log already grouped by tenant.
    const copy = await openWal("replay-copy");
    for (const entries of await readWalToEnd(embedded)) {
      expect((await copy.append(entries)).map((p) => p.offset)).toEqual(
        entries.map((e) => e.position.offset),
      );
    }
    expect([await copy.endOffset(0), await copy.endOffset(1)]).toEqual([
      await embedded.endOffset(0),
      await embedded.endOffset(1),
    ]);

    const reference = await materialize(copy, dir("replay-a"), {
      maxBatch: 7,
      maxOpenTenants: 256,
    });
    // The scenario exercises what it should: failures of every kind, retries, both schema versions.
    const all = reference.join("\n");
    for (const needle of [
      "UNIQUE_VIOLATION",
      "MISSING_REF",
      "NOT_FOUND",
      "PRECONDITION_FAILED",
      "UNIQUE_PER_FROM",
      "summary",
      "ix_n4_f8",
      "PERMISSION_DENIED",
      "'user:2' is a viewer of tenant",
      "'user:3' is not a member of tenant",
      '"group:devs" | "member"',
      "lacks the edit capability",
      '"group:devs" | 4 | 0 |',
    ]) {
      expect(all).toContain(needle);
    }
    expect(all).toContain("-9223372036854775");
    // Deletions left tombstones, replayed like every other row.
    expect(all).toMatch(
      /rows node_tombstones \(id, type_id, owner, payload, deleted_at\)\n"[^"\n]+" \| \d+ \| "/,
    );
    expect(reference.every((d) => d.includes("rows nodes") && d.split("\n").length > 100)).toBe(
      true,
    );

    expect(await materialize(copy, dir("replay-b"), { maxBatch: 1, maxOpenTenants: 256 })).toEqual(
      reference,
    );
    expect(await materialize(copy, dir("replay-c"), { maxBatch: 500, maxOpenTenants: 1 })).toEqual(
      reference,
    );

    const fromEmbedded = await materialize(embedded, dir("replay-d"), {
      maxBatch: 64,
      maxOpenTenants: 2,
    });
    expect(fromEmbedded).toEqual(reference);
  });

  it("rebuilds a deleted tenant database, and the meta database, from the log", async () => {
    const wal = await openWal("rebuild-wal");
    await wal.append(scenario());
    const dataDir = dir("rebuild");
    const reference = await materialize(wal, dataDir, { maxBatch: 32, maxOpenTenants: 256 });
    const store = openStore({ dataDir, schemas: lookupOf(served(1, TRACKER_V1)) });
    const path = store.tenantPath("globex");
    store.close();
    rmSync(path);
    for (const f of ["meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm"])
      rmSync(join(dataDir, f), { force: true });
    expect(await materialize(wal, dataDir, { maxBatch: 32, maxOpenTenants: 256 })).toEqual(
      reference,
    );
  });
});
