/**
 * The rule of the embedded log's local retention (`server/archive/log-retention.ts`):
 * which offsets of each partition may be deleted, given the archive, the applier and the
 * tenants' snapshots.
 */

import { describe, expect, it } from "vitest";
import { retentionFloors } from "../../server/archive/log-retention.ts";

/** Two partitions; tenants "a*" live in 0, "b*" in 1. */
function floors(input: {
  archived?: readonly number[];
  checkpoint?: readonly number[];
  processed?: readonly number[];
  positions?: Record<string, number>;
  files?: readonly string[];
  snapshots?: Record<string, number>;
}): number[] {
  return retentionFloors({
    partitions: 2,
    partitionFor: (tenant) => (tenant.startsWith("a") ? 0 : 1),
    archivedEnd: (p) => input.archived?.[p] ?? 100,
    checkpoint: (p) => input.checkpoint?.[p] ?? 100,
    processed: (p) => input.processed?.[p] ?? 100,
    tenantPositions: new Map(
      Object.entries(input.positions ?? {}).map(([t, appliedOffset]) => [t, { appliedOffset }]),
    ),
    tenantFiles: input.files ?? [],
    snapshots: new Map(Object.entries(input.snapshots ?? {})),
  });
}

describe("local retention floors", () => {
  it("never passes the archived end: a record not yet archived is kept", () => {
    expect(floors({ archived: [40, 0] })).toEqual([40, 0]);
  });

  it("never passes the checkpoint or the applier's live position", () => {
    expect(floors({ checkpoint: [30, 100], processed: [100, 12] })).toEqual([30, 12]);
  });

  it("keeps a partition whole while one of its tenants has no snapshot", () => {
    expect(floors({ positions: { a1: 50 }, snapshots: {} })).toEqual([0, 100]);
    // A tenant with a file that meta.sqlite does not know yet counts too.
    expect(floors({ files: ["b1"], snapshots: {} })).toEqual([100, 0]);
  });

  it("keeps what a tenant's newest snapshot does not cover", () => {
    expect(floors({ positions: { a1: 80, a2: 90 }, snapshots: { a1: 60, a2: 90 } })).toEqual([
      60, 100,
    ]);
  });

  it("lets a tenant whose snapshot holds all it applied stop constraining the partition", () => {
    // a1 last wrote long ago: its snapshot at 20 is all of it, so it does not pin offset 20.
    expect(floors({ positions: { a1: 20 }, snapshots: { a1: 20 }, checkpoint: [70, 100] })).toEqual(
      [70, 100],
    );
  });
});
