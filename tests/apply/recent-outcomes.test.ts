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
