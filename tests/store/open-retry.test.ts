/**
 * A tenant file that cannot be used is marked unavailable, and the store tries it again
 * after a wait that doubles with each failure (`StoreOptions.openRetry`), so a fixed file
 * is served again without a restart; until then every open answers the same error.
 */

import { mkdirSync, renameSync, rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../server/store/store.ts";
import { lookupOf, served, TRACKER_V1, tempDir } from "./store-fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function store(): Store {
  const dir = tempDir("open-retry");
  const s = openStore({
    dataDir: dir.path,
    schemas: lookupOf(served(1, TRACKER_V1)),
    maxOpenTenants: 1,
    openRetry: { firstMs: 200, maxMs: 400 },
  });
  cleanups.push(() => dir.remove());
  cleanups.push(() => s.close());
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a tenant file that could not be opened", () => {
  it("is tried again after a doubling wait, and served once it opens", async () => {
    const s = store();
    s.tenant("acme", true);
    s.tenant("globex", true); // closes acme's file
    const file = s.tenantPath("acme");
    renameSync(file, `${file}.aside`);
    mkdirSync(file);

    expect(() => s.tenant("acme", false)).toThrow(/cannot be used/);
    const error = s.unavailable("acme");
    expect(error?.code).toBe("tenant-unavailable");
    // Within the 200 ms wait the mark answers without trying the file.
    expect(() => s.tenant("acme", false)).toThrow(error!);
    await sleep(250);
    // Tried again: still a directory, so marked again, now for 400 ms.
    expect(() => s.tenant("acme", false)).toThrow(/cannot be used/);
    const again = s.unavailable("acme");
    expect(again).not.toBe(error);

    // The operator puts the file back: the open after the wait serves it.
    rmSync(file, { recursive: true });
    renameSync(`${file}.aside`, file);
    expect(() => s.tenant("acme", false)).toThrow(again!);
    await sleep(450);
    expect(s.tenant("acme", false)?.tenant).toBe("acme");
    expect(s.unavailable("acme")).toBeUndefined();
  });

  it("is the applier's to retry once it marked the tenant", async () => {
    const s = store();
    s.tenant("acme", true);
    s.tenant("globex", true);
    const file = s.tenantPath("acme");
    renameSync(file, `${file}.aside`);
    mkdirSync(file);
    expect(() => s.tenant("acme", false)).toThrow(/cannot be used/);
    const parked = s.unavailable("acme")!;
    s.markUnavailable("acme", parked);
    rmSync(file, { recursive: true });
    renameSync(`${file}.aside`, file);
    await sleep(250);
    expect(() => s.tenant("acme", false)).toThrow(parked);
    s.clearUnavailable("acme");
    expect(s.tenant("acme", false)?.tenant).toBe("acme");
  });
});
