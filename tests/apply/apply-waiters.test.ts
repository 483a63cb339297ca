import { afterEach, describe, expect, it } from "vitest";
import { ApplyWaiters } from "../../server/apply/apply-waiters.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { lookupOf, served, TRACKER_V1, tempDir } from "../store/store-fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function freshStore(): Store {
  const dir = tempDir("waiters");
  cleanups.push(() => dir.remove());
  const store = openStore({ dataDir: dir.path, schemas: lookupOf(served(1, TRACKER_V1)) });
  cleanups.push(() => store.close());
  return store;
}

const at = (offset: number) => ({ partition: 0, offset });
const applied = (appliedOffset: number) => ({ partition: 0, appliedOffset, schemaVersion: 1 });

describe("read-your-writes waits", () => {
  it("resolves the waits a commit reaches and leaves the others waiting", async () => {
    const waiters = new ApplyWaiters(freshStore());
    const first = waiters.waitFor("acme", at(0), 5_000);
    const second = waiters.waitFor("acme", at(3), 5_000);
    const elsewhere = waiters.waitFor("other", at(0), 5_000);
    waiters.notify("acme", applied(1));
    expect(await first).toBe(true);
    waiters.notify("acme", { ...applied(9), partition: 1 });
    waiters.notify("acme", applied(4));
    expect(await second).toBe(true);
    waiters.releaseAll();
    expect(await elsewhere).toBe(false);
  });

  it("rejects the waits of a parked tenant with its error", async () => {
    const waiters = new ApplyWaiters(freshStore());
    const error = new StoreError("tenant-unavailable", 'Tenant "acme" stopped applying.');
    const waiting = waiters.waitFor("acme", at(0), 5_000);
    waiters.fail("acme", error);
    await expect(waiting).rejects.toBe(error);
  });

  it("answers false at once for a zero timeout, and after the timeout otherwise", async () => {
    const waiters = new ApplyWaiters(freshStore());
    expect(await waiters.waitFor("acme", at(0), 0)).toBe(false);
    expect(await waiters.waitFor("acme", at(0), 10)).toBe(false);
    waiters.notify("acme", applied(1)); // nothing left to wake
  });

  it("rejects with the signal's reason when it aborts first, leaving the other waits", async () => {
    const waiters = new ApplyWaiters(freshStore());
    const controller = new AbortController();
    const reason = new Error("the call's deadline passed");
    const aborted = waiters.waitFor("acme", at(0), 5_000, controller.signal);
    const other = waiters.waitFor("acme", at(0), 5_000);
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    await expect(waiters.waitFor("acme", at(0), 5_000, AbortSignal.abort(reason))).rejects.toBe(
      reason,
    );
    waiters.notify("acme", applied(1));
    expect(await other).toBe(true);
    // A wait that settled first ignores a later abort.
    const later = new AbortController();
    const done = waiters.waitFor("acme", at(1), 5_000, later.signal);
    waiters.notify("acme", applied(2));
    later.abort(reason);
    expect(await done).toBe(true);
  });

  it("throws the store's error for a tenant it knows is unavailable", async () => {
    const store = freshStore();
    const error = new StoreError("tenant-unavailable", 'Tenant "acme" is down.');
    store.markUnavailable("acme", error);
    await expect(new ApplyWaiters(store).waitFor("acme", at(0), 5_000)).rejects.toBe(error);
    await expect(new ApplyWaiters(store).waitFor("../x", at(0), 10)).rejects.toMatchObject({
      code: "invalid-tenant",
    });
  });
});
