/**
 * The API's membership cache (server/acl/access-cache.ts) holds committed state only:
 * the applier drops a tenant's entry after the transaction that changed its access
 * tables ended, and a change in a transaction that rolled back is never seen, neither
 * by the cache nor by the applier's next decision.
 */

import { afterEach, describe, expect, it } from "vitest";
import { AccessCache } from "../../server/acl/access-cache.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { accessEvent, op, planEvent, T, v } from "../store/store-fixtures.ts";
import { type Harness, openHarness } from "./apply-harness.ts";

const ADMIN = { actor: "user:root", actorAdmin: true, openAccess: false };
const ALICE = { actor: "user:alice", openAccess: false };
const MALLORY = { actor: "user:mallory", openAccess: false };

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function setup() {
  const dropped: string[] = [];
  let cache: AccessCache | undefined;
  const h = openHarness({
    onAccessChanged: (tenant) => {
      dropped.push(tenant);
      cache?.invalidate(tenant);
    },
  });
  harness = h;
  cache = new AccessCache((tenant) => {
    const db = h.store.tenant(tenant, false);
    return db ? readTenantAccess(db) : undefined;
  });
  const members = (tenant: string) =>
    [...(cache.get(tenant)?.members ?? new Map())].map(([p, r]) => `${p}=${r}`).sort();
  return { h, cache, dropped, members };
}

describe("the membership cache", () => {
  it("sees a change once the applier's transaction committed it", () => {
    const { h, cache, dropped, members } = setup();
    expect(cache.get("acme")).toBeUndefined();
    h.run([
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "c",
          { case: "createTenantOwner", value: "user:alice" },
          ADMIN,
        ),
      },
    ]);
    expect(members("acme")).toEqual(["user:alice=owner"]);
    h.run([
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "a",
          { case: "addMember", value: { principal: "user:bob", role: "viewer" } },
          ALICE,
        ),
      },
    ]);
    expect(members("acme")).toEqual(["user:alice=owner", "user:bob=viewer"]);
    expect(dropped).toEqual(["acme", "acme"]);
  });

  it("never sees a change whose transaction rolled back, and the applier does not decide by it", () => {
    const { h, members } = setup();
    h.run([
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "c",
          { case: "createTenantOwner", value: "user:alice" },
          ADMIN,
        ),
      },
    ]);
    expect(members("acme")).toEqual(["user:alice=owner"]);
    // A fault that is no decision (the position write fails), after the membership change
    // was written inside the transaction: the whole transaction rolls back, the tenant parks.
    const db = h.store.tenant("acme", false)!;
    db.db.exec(
      "CREATE TRIGGER fail_state BEFORE UPDATE ON tenant_state BEGIN SELECT RAISE(ABORT, 'disk trouble'); END",
    );
    h.run([
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "m",
          { case: "addMember", value: { principal: "user:mallory", role: "owner" } },
          ALICE,
        ),
      },
    ]);
    expect(h.applier.parkedTenants().map((p) => p.error.message)).toEqual([
      expect.stringContaining("disk trouble"),
    ]);
    // The operator fixes the fault; the tenant opens again from its file.
    h.store.clearUnavailable("acme");
    h.store.tenant("acme", false)!.db.exec("DROP TRIGGER fail_state");
    expect(members("acme")).toEqual(["user:alice=owner"]);
    expect(readTenantAccess(h.store.tenant("acme", false)!).members.has("user:mallory")).toBe(
      false,
    );
  });

  it("leaves a refused change out, and the refused actor's write is refused by the applier", () => {
    const { h, members } = setup();
    h.run([
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "c",
          { case: "createTenantOwner", value: "user:alice" },
          ADMIN,
        ),
      },
      {
        tenant: "acme",
        payload: accessEvent(
          "acme",
          "self",
          { case: "addMember", value: { principal: "user:mallory", role: "owner" } },
          MALLORY,
        ),
      },
      {
        tenant: "acme",
        payload: planEvent(
          "acme",
          "w",
          [op.createNode(T.Team, "t1", { 1: v.str("T"), 2: v.str("t") })],
          MALLORY,
        ),
      },
    ]);
    expect(members("acme")).toEqual(["user:alice=owner"]);
    expect(h.reader.outcomeByKey("acme", "self")?.failure?.message).toBe(
      "'user:mallory' may not manage the members of tenant 'acme': that takes the tenant role admin or owner.",
    );
    expect(h.reader.outcomeByKey("acme", "w")?.failure?.message).toBe(
      "'user:mallory' is not a member of tenant 'acme'.",
    );
  });
});
