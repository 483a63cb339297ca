/**
 * `meta.sqlite` on a disk that fills up: moving the applier's checkpoint must not throw
 * (the applier stops for good on a throw from there, and nothing would be applied once
 * the disk had room again). The old checkpoint stays, the failure is reported, and the
 * next call once space is freed writes the new one with the tenants' positions it held.
 * Runs on a small tmpfs (needs root).
 */

import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MetaDb } from "../../server/store/meta-db.ts";
import { canMount, cannotMountReason, mountTmpfs, type Tmpfs } from "../infra/tmpfs.ts";

if (!canMount) console.warn(`meta-disk-full.test.ts skipped: ${cannotMountReason()}`);

describe.runIf(canMount)("the meta database on a full disk", () => {
  let disk: Tmpfs | undefined;
  let meta: MetaDb | undefined;

  afterEach(() => {
    meta?.close();
    meta = undefined;
    disk?.unmount();
    disk = undefined;
  });

  it("keeps the previous checkpoint and reports why until one can be written", () => {
    disk = mountTmpfs({ sizeBytes: 1024 * 1024 });
    meta = new MetaDb(join(disk.dir, "meta.sqlite"));
    meta.noteTenant("acme", { partition: 3, appliedOffset: 5 });
    meta.setCheckpoints(new Map([[3, 5]]));
    expect(meta.checkpointFailure).toBeUndefined();

    disk.fill();
    meta.noteTenant("acme", { partition: 3, appliedOffset: 9 });
    meta.noteTenant("zeta", { partition: 3, appliedOffset: 8 });
    expect(() => meta?.setCheckpoints(new Map([[3, 9]]))).not.toThrow();
    expect(meta.checkpointFailure?.message).toBe("database or disk is full");
    expect(meta.checkpoint(3)).toBe(5);
    // Recorded: what the checkpoint of offset 5 held; noted since: kept for the next one.
    expect(meta.tenantPositions()).toEqual(new Map([["acme", { partition: 3, appliedOffset: 5 }]]));
    expect(meta.tenantPosition("zeta")).toEqual({ partition: 3, appliedOffset: 8 });

    disk.free();
    meta.setCheckpoints(new Map([[3, 10]]));
    expect(meta.checkpointFailure).toBeUndefined();
    expect(meta.checkpoint(3)).toBe(10);
    expect(meta.tenantPositions()).toEqual(
      new Map([
        ["acme", { partition: 3, appliedOffset: 9 }],
        ["zeta", { partition: 3, appliedOffset: 8 }],
      ]),
    );
  });

  it("still throws what is not the disk's fault", () => {
    disk = mountTmpfs({ sizeBytes: 1024 * 1024 });
    meta = new MetaDb(join(disk.dir, "meta.sqlite"));
    meta.close();
    expect(() => meta?.setCheckpoints(new Map([[0, 1]]))).toThrow(/not open/);
    meta = undefined;
  });
});
