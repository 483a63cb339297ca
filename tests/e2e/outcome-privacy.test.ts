/**
 * A plan's outcome is answered only to the principal that logged it (docs/access-control.md,
 * "Receipts and idempotency keys"): another member that knows the key, a tenant owner or a
 * server administrator gets, from GetReceipt, the NOT_FOUND of a key never used, and a
 * retry of ExecutePlan (or of a membership change) under the key is refused with nothing
 * logged and none of the outcome in the answer.
 */

import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  connectError,
  countNodes,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  teamPlan,
  tokenArgs,
} from "./e2e-helpers.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
  carol: "carol-token-0123456789",
} as const;
type Who = keyof typeof TOKENS;

const server = serverPerFile({
  args: tokenArgs(TOKENS, ["root"]),
});

function api(who: Who, binary = false): EntDbClient {
  return entDbClient(server, { token: TOKENS[who], binary });
}

const TENANT = "acme";
let created = "";

function neverUsed(key: string): string {
  return `No applied plan with idempotency key '${key}' in tenant '${TENANT}' (it may not be applied yet).`;
}

function keyTaken(key: string): string {
  return `Idempotency key '${key}' is already used in tenant '${TENANT}' by another principal; send a new key.`;
}

beforeAll(async () => {
  await api("root").createTenant({ tenant: TENANT, owner: "user:carol" });
  await api("carol").addTenantMember({ tenant: TENANT, principal: "user:alice", role: "admin" });
  await api("carol").addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" });
  const made = await api("alice").executePlan({
    ...teamPlan(TENANT, "alices-team"),
    idempotencyKey: "alice-1",
  });
  created = made.results[0]?.id ?? "";
  expect(created).not.toBe("");
}, 30_000);

describe("plan outcomes", () => {
  it("answers GetReceipt to the principal that logged the plan", async () => {
    const receipt = await api("alice").getReceipt({ tenant: TENANT, idempotencyKey: "alice-1" });
    expect(receipt.results.map((r) => r.id)).toEqual([created]);
    expect(receipt.receipt?.applied).toBe(true);
  });

  it("answers another member, the owner and on both codecs the NOT_FOUND of a key never used", async () => {
    for (const binary of [false, true]) {
      for (const who of ["bob", "carol"] as const) {
        const never = await connectError(
          api(who, binary).getReceipt({ tenant: TENANT, idempotencyKey: "never-used" }),
        );
        const other = await connectError(
          api(who, binary).getReceipt({ tenant: TENANT, idempotencyKey: "alice-1" }),
        );
        expect([who, binary, other.code, other.rawMessage]).toEqual([
          who,
          binary,
          never.code,
          never.rawMessage.replace("never-used", "alice-1"),
        ]);
        expect(other.code).toBe(Code.NotFound);
        expect(other.rawMessage).toBe(neverUsed("alice-1"));
        expect(other.details).toEqual([]);
      }
    }
  });

  it("refuses another member's retry of the key without the outcome, and logs nothing", async () => {
    const before = await countNodes(api("alice"), TENANT);
    for (const binary of [false, true]) {
      const retry = await connectError(
        api("bob", binary).executePlan({
          ...teamPlan(TENANT, "alices-team"),
          idempotencyKey: "alice-1",
        }),
      );
      expect(retry.code).toBe(Code.FailedPrecondition);
      expect(retry.rawMessage).toBe(keyTaken("alice-1"));
      expect(retry.rawMessage).not.toContain(created);
      const other = await connectError(
        api("bob", binary).executePlan({
          ...teamPlan(TENANT, "bobs-team"),
          idempotencyKey: "alice-1",
        }),
      );
      expect([other.code, other.rawMessage]).toEqual([retry.code, retry.rawMessage]);
    }
    expect(await countNodes(api("alice"), TENANT)).toBe(before);
    const again = await api("alice").executePlan({
      ...teamPlan(TENANT, "alices-team"),
      idempotencyKey: "alice-1",
    });
    expect(again.receipt?.replayed).toBe(true);
    expect(again.results.map((r) => r.id)).toEqual([created]);
  });

  it("keeps a membership change's outcome to the principal that logged it", async () => {
    const change = {
      tenant: TENANT,
      principal: "user:dave",
      role: "viewer",
      idempotencyKey: "m-1",
    };
    const first = await api("alice").addTenantMember(change);
    const again = await api("alice").addTenantMember(change);
    expect(again.receipt?.replayed).toBe(true);
    expect(again.receipt?.position).toEqual(first.receipt?.position);
    const owner = await connectError(api("carol").addTenantMember(change));
    expect([owner.code, owner.rawMessage]).toEqual([Code.FailedPrecondition, keyTaken("m-1")]);
    const receipt = await connectError(
      api("carol").getReceipt({ tenant: TENANT, idempotencyKey: "m-1" }),
    );
    expect([receipt.code, receipt.rawMessage]).toEqual([Code.NotFound, neverUsed("m-1")]);
  });
});
