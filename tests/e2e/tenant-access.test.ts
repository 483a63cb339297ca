/**
 * Tenants and membership against a real `entdb serve` with tokens (docs/access-control.md):
 * a tenant exists only once a server administrator created it; a principal that is not a
 * member gets PERMISSION_DENIED on every RPC of the tenant, generic or typed, on the
 * Connect router and on the unary fast path, with the same message whether or not the
 * tenant exists; a viewer reads but does not write; a server administrator manages
 * members but does not read content; membership changes go through the log.
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Direction } from "../../generated/entdb/v1/entdb_pb.js";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  TRACKER,
  teamPlan,
  tokenArgs,
} from "./e2e-helpers.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
  viv: "viv-token-0123456789ab",
  grace: "grace-token-0123456789",
  mallory: "mallory-token-01234567",
} as const;
type Who = keyof typeof TOKENS;

const server = serverPerFile({
  args: tokenArgs(TOKENS, ["root"]),
});

/** The client variants: Connect JSON (the library's router), Connect binary (the unary fast path), gRPC. */
const VARIANTS = {
  json: { protocol: "connect", httpVersion: "1.1" },
  fast: { protocol: "connect", httpVersion: "1.1", binary: true },
  grpc: { protocol: "grpc" },
} as const;

function api(who: Who, variant: keyof typeof VARIANTS = "json"): EntDbClient {
  return entDbClient(server, { ...VARIANTS[variant], token: TOKENS[who] });
}

const TENANT = "acme";
let teamId = "";

function notMember(who: Who, tenant: string): string {
  return `'user:${who}' is not a member of tenant '${tenant}'; a tenant admin or owner can add it with AddTenantMember.`;
}

function tenantFiles(): string[] {
  return readdirSync(join(server.dataDir, "tenants")).filter((f) => f.endsWith(".sqlite"));
}

beforeAll(async () => {
  await api("root").createTenant({ tenant: TENANT, owner: "user:alice" });
  const alice = api("alice");
  await alice.addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" });
  await alice.addTenantMember({ tenant: TENANT, principal: "user:viv", role: "viewer" });
  await alice.createGroup({ tenant: TENANT, group: "group:eng" });
  await alice.addGroupMember({ tenant: TENANT, group: "group:eng", principal: "user:grace" });
  await alice.addTenantMember({ tenant: TENANT, principal: "group:eng", role: "member" });
  const created = await alice.executePlan(teamPlan(TENANT, "core"));
  teamId = created.results[0]?.id ?? "";
  expect(teamId).not.toBe("");
}, 30_000);

/** One call of every RPC that names a tenant, as `client` makes it for `tenant`. */
function tenantCalls(client: EntDbClient, tenant: string): Record<string, () => Promise<unknown>> {
  return {
    ExecutePlan: () => client.executePlan(teamPlan(tenant, "x")),
    GetReceipt: () => client.getReceipt({ tenant, idempotencyKey: "k" }),
    WaitForPosition: () =>
      client.waitForPosition({ tenant, position: { partition: 0, offset: 0n }, timeoutMs: 1 }),
    GetNode: () => client.getNode({ tenant, typeId: TRACKER.team, id: teamId }),
    GetNodes: () => client.getNodes({ tenant, typeId: TRACKER.team, ids: [teamId] }),
    GetNodeByKey: () =>
      client.getNodeByKey({
        tenant,
        typeId: TRACKER.team,
        key: { [TRACKER.teamSlug]: str("core") },
      }),
    QueryNodes: () => client.queryNodes({ tenant, typeId: TRACKER.team }),
    ListEdges: () =>
      client.listEdges({
        tenant,
        edgeTypeId: TRACKER.memberOf,
        nodeId: teamId,
        direction: Direction.IN,
      }),
    Traverse: () => client.traverse({ tenant, startId: teamId, edgeTypeIds: [TRACKER.memberOf] }),
    AddTenantMember: () =>
      client.addTenantMember({ tenant, principal: "user:mallory", role: "owner" }),
    SetTenantMemberRole: () =>
      client.setTenantMemberRole({ tenant, principal: "user:mallory", role: "owner" }),
    RemoveTenantMember: () => client.removeTenantMember({ tenant, principal: "user:alice" }),
    CreateGroup: () => client.createGroup({ tenant, group: "group:evil" }),
    AddGroupMember: () =>
      client.addGroupMember({ tenant, group: "group:eng", principal: "user:mallory" }),
    RemoveGroupMember: () =>
      client.removeGroupMember({ tenant, group: "group:eng", principal: "user:grace" }),
    ListTenantMembers: () => client.listTenantMembers({ tenant }),
    ListGroups: () => client.listGroups({ tenant }),
  };
}

describe("a principal that is not a member", () => {
  it("gets PERMISSION_DENIED on every tenant RPC, over JSON, the fast path and gRPC", async () => {
    for (const variant of Object.keys(VARIANTS) as (keyof typeof VARIANTS)[]) {
      for (const [name, call] of Object.entries(tenantCalls(api("mallory", variant), TENANT))) {
        const err = await connectError(call());
        expect([name, variant, err.code]).toEqual([name, variant, Code.PermissionDenied]);
        expect(err.rawMessage).toBe(notMember("mallory", TENANT));
      }
    }
  });

  it("cannot tell a tenant that does not exist from one it may not use, and creates nothing", async () => {
    const before = tenantFiles();
    for (const [name, call] of Object.entries(tenantCalls(api("mallory"), "ghost"))) {
      const err = await connectError(call());
      expect([name, err.code]).toEqual([name, Code.PermissionDenied]);
      expect(err.rawMessage).toBe(notMember("mallory", "ghost"));
    }
    expect(tenantFiles()).toEqual(before);
    expect(existsSync(join(server.dataDir, "tenants", tenantFileName("ghost")))).toBe(false);
  });

  it("gets PERMISSION_DENIED from the typed services too", async () => {
    for (const [method, body] of [
      ["Create", { fields: { name: "T", slug: "typed-x" } }],
      ["Get", { id: teamId }],
      ["Query", {}],
    ] as const) {
      const res = await fetch(`${server.url}/acme.tracker.TeamService/${method}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "entdb-tenant": TENANT,
          authorization: `Bearer ${TOKENS.mallory}`,
        },
        body: JSON.stringify(body),
      });
      expect([method, res.status]).toEqual([method, 403]);
      expect(await res.json()).toEqual({
        code: "permission_denied",
        message: notMember("mallory", TENANT),
      });
    }
  });
});

describe("roles", () => {
  it("lets a viewer read but not write", async () => {
    const viv = api("viv", "fast");
    const read = await viv.getNode({ tenant: TENANT, typeId: TRACKER.team, id: teamId });
    expect(read.node?.id).toBe(teamId);
    const err = await connectError(viv.executePlan(teamPlan(TENANT, "by-viewer")));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "'user:viv' is a viewer of tenant 'acme' and may not write; that takes the role member, admin or owner.",
    );
    const members = await viv.listTenantMembers({ tenant: TENANT });
    expect(members.members.map((m) => `${m.principal}=${m.role}`)).toEqual([
      "group:eng=member",
      "user:alice=owner",
      "user:bob=member",
      "user:viv=viewer",
    ]);
  });

  it("lets a member write and a group member write through its group", async () => {
    const bob = await api("bob", "grpc").executePlan(teamPlan(TENANT, "by-bob"));
    expect(bob.results).toHaveLength(1);
    const grace = await api("grace").executePlan(teamPlan(TENANT, "by-grace"));
    const node = await api("alice").getNode({
      tenant: TENANT,
      typeId: TRACKER.team,
      id: grace.results[0]?.id ?? "",
    });
    expect(node.node?.owner).toBe("user:grace");
  });

  it("does not let a plain member manage members", async () => {
    const err = await connectError(
      api("bob").addTenantMember({ tenant: TENANT, principal: "user:mallory", role: "viewer" }),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "'user:bob' is a member of tenant 'acme' and may not manage its members and groups; that takes the role admin or owner.",
    );
  });
});

describe("server administrators", () => {
  it("create tenants; nobody else may, and a refused create writes no file", async () => {
    const before = tenantFiles();
    const err = await connectError(
      api("alice").createTenant({ tenant: "by-alice", owner: "user:alice" }),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "Only a server administrator (--admins) may create tenant 'by-alice'.",
    );
    expect(tenantFiles()).toEqual(before);

    await api("root").createTenant({ tenant: "by-root", owner: "user:bob" });
    const again = await connectError(
      api("root").createTenant({ tenant: "by-root", owner: "user:alice" }),
    );
    expect(again.code).toBe(Code.AlreadyExists);
    expect(again.rawMessage).toBe("Tenant 'by-root' already exists.");
    const written = await api("bob").executePlan(teamPlan("by-root", "first"));
    expect(written.results).toHaveLength(1);
  });

  it("manage members but do not read content", async () => {
    const root = api("root");
    await root.addTenantMember({ tenant: TENANT, principal: "service:ops", role: "admin" });
    const members = await root.listTenantMembers({ tenant: TENANT });
    expect(members.members.find((m) => m.principal === "service:ops")?.role).toBe("admin");
    for (const [name, call] of Object.entries(tenantCalls(root, TENANT))) {
      if (!["GetNode", "GetNodes", "QueryNodes", "ExecutePlan", "Traverse"].includes(name))
        continue;
      const err = await connectError(call());
      expect([name, err.code]).toEqual([name, Code.PermissionDenied]);
      expect(err.rawMessage).toBe(notMember("root", TENANT));
    }
    await root.removeTenantMember({ tenant: TENANT, principal: "service:ops" });
  });

  it("list every tenant; a member lists its own, with its role", async () => {
    const all = (await api("root").listTenants({})).tenants.map((t) => t.tenant);
    expect(all).toContain(TENANT);
    expect(all).toContain("by-root");
    const alice = await api("alice").listTenants({});
    expect(alice.tenants.map((t) => `${t.tenant}=${t.role}`)).toEqual(["acme=owner"]);
    expect((await api("mallory").listTenants({})).tenants).toEqual([]);
  });
});

describe("membership changes", () => {
  it("take effect on the next call: a removed member is refused, a re-added one let in", async () => {
    const tenant = "churn";
    await api("root").createTenant({ tenant, owner: "user:alice" });
    const alice = api("alice");
    await alice.addTenantMember({ tenant, principal: "user:bob", role: "member" });
    await api("bob").executePlan(teamPlan(tenant, "one"));
    await alice.removeTenantMember({ tenant, principal: "user:bob" });
    const err = await connectError(api("bob", "fast").queryNodes({ tenant, typeId: TRACKER.team }));
    expect(err.code).toBe(Code.PermissionDenied);
    await alice.addTenantMember({ tenant, principal: "user:bob", role: "viewer" });
    const page = await api("bob", "fast").queryNodes({ tenant, typeId: TRACKER.team });
    expect(page.nodes).toHaveLength(1);
  });

  it("are decided by the applier: duplicates, missing members and the last owner", async () => {
    const alice = api("alice");
    const dup = await connectError(
      alice.addTenantMember({ tenant: TENANT, principal: "user:bob", role: "admin" }),
    );
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(dup.rawMessage).toBe(
      "'user:bob' is already a member of tenant 'acme'; change its role with SetTenantMemberRole.",
    );
    const missing = await connectError(
      alice.setTenantMemberRole({ tenant: TENANT, principal: "user:nobody", role: "viewer" }),
    );
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toBe("'user:nobody' is not a member of tenant 'acme'.");
    const last = await connectError(
      alice.removeTenantMember({ tenant: TENANT, principal: "user:alice" }),
    );
    expect(last.code).toBe(Code.FailedPrecondition);
    expect(last.rawMessage).toBe(
      "'user:alice' is the last owner of tenant 'acme'; make another member an owner first.",
    );
  });

  it("reject malformed principals and roles before logging", async () => {
    const alice = api("alice");
    const role = await connectError(
      alice.addTenantMember({ tenant: TENANT, principal: "user:x", role: "superuser" }),
    );
    expect(role.code).toBe(Code.InvalidArgument);
    expect(role.rawMessage).toBe(
      "`role` is 'superuser'; it must be owner, admin, member or viewer.",
    );
    const kind = await connectError(
      alice.addGroupMember({ tenant: TENANT, group: "group:eng", principal: "group:ops" }),
    );
    expect(kind.code).toBe(Code.InvalidArgument);
    expect(kind.rawMessage).toBe(
      "`principal` is 'group:ops'; it must be a user or service principal.",
    );
  });

  it("return the first outcome to a retried idempotency key", async () => {
    const alice = api("alice");
    const first = await alice.createGroup({
      tenant: TENANT,
      group: "group:ops",
      idempotencyKey: "g-ops",
    });
    const again = await alice.createGroup({
      tenant: TENANT,
      group: "group:ops",
      idempotencyKey: "g-ops",
    });
    expect(again.receipt?.replayed).toBe(true);
    expect(again.receipt?.position).toEqual(first.receipt?.position);
    const groups = await alice.listGroups({ tenant: TENANT });
    expect(groups.groups.map((g) => `${g.group}:${g.members.join("+")}`)).toEqual([
      "group:eng:user:grace",
      "group:ops:",
    ]);
    // A key names one change: another change under it is refused, and nothing is logged.
    const other = await connectError(
      alice.createGroup({ tenant: TENANT, group: "group:qa", idempotencyKey: "g-ops" }),
    );
    const at = `${first.receipt?.position?.partition}:${first.receipt?.position?.offset}`;
    expect(other.code).toBe(Code.FailedPrecondition);
    expect(other.rawMessage).toBe(
      `Idempotency key 'g-ops' was already used for a different change (logged at ${at}); a key names one change. Send a new key for a new change, or the same change to get its outcome.`,
    );
    const after = await alice.listGroups({ tenant: TENANT });
    expect(after.groups.map((g) => g.group)).toEqual(["group:eng", "group:ops"]);
  });
});

describe("bug classes that systems like this one have shipped", () => {
  it("takes no identity from client-set headers or the body", async () => {
    const spoof = {
      "x-entdb-actor": "user:alice",
      "entdb-actor": "user:alice",
      "x-forwarded-user": "user:alice",
      "x-remote-user": "user:alice",
    };
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/QueryNodes`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKENS.mallory}`,
        ...spoof,
      },
      body: JSON.stringify({ tenant: TENANT, typeId: TRACKER.team }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toBe(notMember("mallory", TENANT));
    // A body that names an actor is not a request at all: JSON is as strict as binary.
    const inBody = await fetch(`${server.url}/entdb.v1.EntDbService/QueryNodes`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKENS.mallory}` },
      body: JSON.stringify({ tenant: TENANT, typeId: TRACKER.team, actor: "user:alice" }),
    });
    expect(inBody.status).toBe(400);
    expect(((await inBody.json()) as { code: string }).code).toBe("invalid_argument");
    const anonymous = await fetch(`${server.url}/entdb.v1.EntDbService/QueryNodes`, {
      method: "POST",
      headers: { "content-type": "application/json", ...spoof },
      body: JSON.stringify({ tenant: TENANT, typeId: TRACKER.team }),
    });
    expect(anonymous.status).toBe(401);
    const written = await fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKENS.bob}`,
        ...spoof,
      },
      body: JSON.stringify({
        tenant: TENANT,
        operations: [
          {
            createNode: {
              typeId: TRACKER.team,
              fields: { "1": { stringValue: "H" }, "2": { stringValue: "by-header" } },
            },
          },
        ],
      }),
    });
    expect(written.status).toBe(200);
    const id = ((await written.json()) as { results: { id: string }[] }).results[0]?.id ?? "";
    const node = await api("alice").getNode({ tenant: TENANT, typeId: TRACKER.team, id });
    expect(node.node?.owner).toBe("user:bob");
  });

  it("keeps tenants whose ids differ only in case apart", async () => {
    const root = api("root");
    await root.createTenant({ tenant: "Collide", owner: "user:alice" });
    await root.createTenant({ tenant: "collide", owner: "user:bob" });
    await api("alice").executePlan(teamPlan("Collide", "upper"));
    const bobUpper = await connectError(
      api("bob").queryNodes({ tenant: "Collide", typeId: TRACKER.team }),
    );
    expect(bobUpper.rawMessage).toBe(notMember("bob", "Collide"));
    const aliceLower = await connectError(
      api("alice", "fast").queryNodes({ tenant: "collide", typeId: TRACKER.team }),
    );
    expect(aliceLower.rawMessage).toBe(notMember("alice", "collide"));
    expect(
      (await api("bob").queryNodes({ tenant: "collide", typeId: TRACKER.team })).nodes,
    ).toEqual([]);
    expect(
      (await api("bob").listTenants({})).tenants.map((t) => `${t.tenant}=${t.role}`),
    ).toContain("collide=owner");
  });
});
