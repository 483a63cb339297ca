import { describe, expect, it } from "vitest";
import type { ApplyFailure } from "../../server/apply/applier.ts";
import { applyFailure } from "../../server/apply/apply-failure.ts";
import { RecentOutcomes } from "../../server/apply/recent-outcomes.ts";
import type { PlanOutcome } from "../../server/engine.ts";

const outcome = (offset: number): PlanOutcome => ({
  position: { partition: 0, offset },
  schemaVersion: 1,
  results: [],
  actor: "alice",
});

describe("recent outcomes", () => {
  it("keeps staged outcomes only once their transaction commits", () => {
    const recent = new RecentOutcomes();
    recent.stage({ key: "a", outcome: outcome(0) });
    expect(recent.get("acme", "a")).toBeUndefined();
    recent.commit("acme");
    expect(recent.get("acme", "a")).toEqual(outcome(0));
    expect(recent.get("other", "a")).toBeUndefined();
  });

  it("drops staged outcomes on discard, so a rolled-back transaction leaves none", () => {
    const recent = new RecentOutcomes();
    recent.stage({ key: "a", outcome: outcome(0) });
    recent.discard();
    recent.commit("acme");
    expect(recent.get("acme", "a")).toBeUndefined();
  });

  it("evicts the least recently committed outcome beyond its capacity", () => {
    const recent = new RecentOutcomes(2);
    for (const [i, key] of ["a", "b", "a", "c"].entries()) {
      recent.stage({ key, outcome: outcome(i) });
      recent.commit("acme");
    }
    expect(recent.get("acme", "b")).toBeUndefined();
    expect(recent.get("acme", "a")).toEqual(outcome(2));
    expect(recent.get("acme", "c")).toEqual(outcome(3));
  });

  it("counts an outcome committed again from its latest commit when evicting", () => {
    const recent = new RecentOutcomes(2);
    for (const [i, key] of ["a", "a", "b", "c"].entries()) {
      recent.stage({ key, outcome: outcome(i) });
      recent.commit("acme");
    }
    // Commits, newest last: a (1), b (2), c (3). Capacity 2 keeps b and c.
    expect(recent.get("acme", "a")).toBeUndefined();
    expect(recent.get("acme", "b")).toEqual(outcome(2));
    expect(recent.get("acme", "c")).toEqual(outcome(3));
  });

  it("keeps tenants apart, and forgets a tenant whose outcomes were all evicted", () => {
    const recent = new RecentOutcomes(3);
    recent.stage({ key: "a", outcome: outcome(0) });
    recent.commit("acme");
    recent.stage({ key: "a", outcome: outcome(1) });
    recent.stage({ key: "b", outcome: outcome(2) });
    recent.commit("beta");
    expect(recent.get("acme", "a")).toEqual(outcome(0));
    expect(recent.get("beta", "a")).toEqual(outcome(1));
    expect(recent.get("acme", "b")).toBeUndefined();
    expect(recent.tenantCount).toBe(2);
    // The ring is full: beta's commit evicts acme's only outcome, and acme with it.
    recent.stage({ key: "c", outcome: outcome(3) });
    recent.commit("beta");
    expect(recent.get("acme", "a")).toBeUndefined();
    expect(recent.tenantCount).toBe(1);
    // A tenant's own evictions keep its map: beta now evicts its own a, then b.
    recent.stage({ key: "d", outcome: outcome(4) });
    recent.stage({ key: "e", outcome: outcome(5) });
    recent.commit("beta");
    expect([recent.get("beta", "a"), recent.get("beta", "b")]).toEqual([undefined, undefined]);
    expect(recent.get("beta", "e")).toEqual(outcome(5));
    expect(recent.tenantCount).toBe(1);
    // A key joined with a tenant is not another tenant's key.
    recent.stage({ key: "x", outcome: outcome(6) });
    recent.commit("ac");
    expect(recent.get("ac\u0000", "x")).toBeUndefined();
    expect(recent.get("ac", "x")).toEqual(outcome(6));
  });

  it("reports each recorded apply failure when it commits, not before", () => {
    const recent = new RecentOutcomes();
    const failed: ApplyFailure = {
      tenant: "acme",
      position: { partition: 0, offset: 1 },
      idempotencyKey: "b",
      error: applyFailure(new TypeError("boom"), 0),
    };
    const reported: ApplyFailure[] = [];
    recent.stage({ key: "a", outcome: outcome(0) });
    recent.stage({ key: "b", outcome: outcome(1), failed });
    recent.discard();
    recent.commit("acme", (f) => reported.push(f));
    expect(reported).toEqual([]);
    recent.stage({ key: "b", outcome: outcome(1), failed });
    recent.commit("acme", (f) => reported.push(f));
    expect(reported).toEqual([failed]);
  });
});
