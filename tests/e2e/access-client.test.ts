/**
 * The runtime's typed access API (`core.access`, runtime/access-api.ts) against a real
 * server with tokens: membership, groups, share, deny and revoke, with the server's
 * refusals as typed errors.
 */

import { createClient } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { EntDbClientCore } from "../../runtime/client-core.ts";
import { PermissionDeniedError } from "../../runtime/entdb-error.ts";
import { createNodeTransport } from "../../runtime/node.ts";
import { serverPerFile, str, TRACKER, tokenArgs } from "./e2e-helpers.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
} as const;

const server = serverPerFile({
  args: tokenArgs(TOKENS, ["root"]),
});

function client(who: keyof typeof TOKENS, tenant = "runtime-acme"): EntDbClientCore {
  return new EntDbClientCore({
    tenant,
    token: TOKENS[who],
    transport: createNodeTransport({
      baseUrl: server.url,
      protocol: "connect",
      httpVersion: "1.1",
    }),
  });
}

describe("core.access", () => {
  it("manages members and groups, and shares, denies and revokes a node", async () => {
    // Creating a tenant is a server administrator's call, outside any tenant's client.
    await createClient(EntDbService, client("root").transport).createTenant({
      tenant: "runtime-acme",
      owner: "user:alice",
    });
    const alice = client("alice");
    const added = await alice.access.addMember("user:bob", "viewer");
    expect(added.applied).toBe(true);
    expect(added.tenant).toBe("runtime-acme");
    await alice.access.setMemberRole("user:bob", "member");
    // An empty key is none: the change goes under a fresh key of the client's, which a
    // retry would repeat, not under the server's one-off "auto:" key.
    const keyed = await alice.access.createGroup("group:eng", { idempotencyKey: "" });
    expect(keyed.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    await alice.access.addGroupMember("group:eng", "user:bob");
    expect(await alice.access.members()).toEqual([
      { principal: "user:alice", role: "owner" },
      { principal: "user:bob", role: "member" },
    ]);
    expect(await alice.access.groups()).toEqual([{ group: "group:eng", members: ["user:bob"] }]);

    const team = await alice.executePlan([
      {
        op: {
          case: "createNode",
          value: {
            typeId: TRACKER.team,
            fields: { [TRACKER.teamName]: str("Core"), [TRACKER.teamSlug]: str("core") },
          },
        },
      },
    ]);
    const id = team.results[0]?.id ?? "";
    const bob = client("bob");
    const rename = () =>
      bob.executePlan([
        {
          op: {
            case: "updateNode",
            value: { typeId: TRACKER.team, id, set: { [TRACKER.teamName]: str("Renamed") } },
          },
        },
      ]);
    await expect(rename()).rejects.toBeInstanceOf(PermissionDeniedError);
    await alice.access.share(id, "group:eng", "edit", {
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect((await rename()).results[0]?.version).toBe(2n);
    await alice.access.deny(id, "user:bob");
    expect(await bob.getNode({ typeId: TRACKER.team, id })).toBeUndefined();
    await alice.access.revoke(id, "user:bob");
    expect((await bob.getNode({ typeId: TRACKER.team, id }))?.id).toBe(id);

    const refused = await bob.access.addMember("user:root", "owner").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect((refused as Error).message).toContain(
      "'user:bob' is a member of tenant 'runtime-acme' and may not manage its members and groups",
    );
    await alice.access.removeGroupMember("group:eng", "user:bob");
    await alice.access.removeMember("user:bob");
    expect((await alice.access.members()).map((m) => m.principal)).toEqual(["user:alice"]);
  }, 30_000);
});
