import { describe, expect, it } from "vitest";
import { createLogger } from "../log.ts";
import { RebuildGate } from "./rebuild-gate.ts";

/** Tenants named `p<partition>-<n>` live in partition `<partition>`. */
function gate(): RebuildGate {
  return new RebuildGate({
    partitionFor: (tenant) => Number(/^p(\d+)-/.exec(tenant)?.[1]),
    logger: createLogger("error", () => {}),
  });
}

describe("RebuildGate", () => {
  it("lifts a partition's tenant holds as it is read, and keeps those of partitions never read", () => {
    const g = gate();
    g.holdTenant("p0-a", 0, 5, 0, "missing");
    g.holdTenant("p0-b", 0, 9, 3, "older");
    g.holdTenant("p1-a", 1, 4, 0, "missing");
    expect([g.holdsIn(0), g.holdsIn(1), g.holdsIn(2)]).toEqual([true, true, false]);
    expect(g.replayStart(0, 7)).toBe(0);

    g.processed(0, 5);
    expect([...g.heldTenants().keys()]).toEqual(["p0-b", "p1-a"]);
    expect(g.check("p0-a", true)).toBeUndefined();
    expect(g.check("p0-b", true)?.message).toMatch(/^Tenant "p0-b" is being rebuilt/);
    g.processed(0, 9);
    expect([g.holdsIn(0), g.holdsIn(1), g.holdsAny()]).toEqual([false, true, true]);
    expect(g.replayStart(0, 7)).toBe(7);

    // A partition this server is never given keeps its holds; they are lifted if it is.
    g.processed(1, 4);
    expect([g.holdsIn(1), g.holdsAny()]).toEqual([false, false]);
  });

  it("moves a tenant held again to its new hold", () => {
    const g = gate();
    g.holdTenant("p0-a", 0, 5, 0, "missing");
    g.holdTenant("p0-a", 0, 8, 2, "older");
    g.processed(0, 5);
    expect(g.heldTenants()).toEqual(new Map([["p0-a", "older"]]));
    g.processed(0, 8);
    expect(g.holdsAny()).toBe(false);
  });
});
