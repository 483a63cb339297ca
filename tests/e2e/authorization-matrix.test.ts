/**
 * The authorization matrix, generated from one table: every RPC of the generic service
 * and of the schema's typed services, called by every kind of caller against a real
 * `entdb serve`, with the exact code expected of each (docs/access-control.md). A new RPC
 * without a row fails the test.
 *
 * Callers authenticate with static tokens and with JWTs (verified against a JWKS file): an
 * expired JWT is UNAUTHENTICATED on every RPC, and a JWT user whose `groups` claim names
 * group:eng, a member of the tenant, has exactly the access of gus, whom the tenant put in
 * group:eng.
 *
 * The schema has a `public` type and the server runs with `--public-reads`, so the read
 * RPCs answer callers that are not members (no token included) with what they may read:
 * public nodes only; every other RPC refuses them.
 *
 * Writes that an authorized caller may make are aimed so they change nothing: updates and
 * deletes carry a version precondition that cannot hold (so "allowed" is
 * FAILED_PRECONDITION, decided after the access check), and membership changes name a
 * member that already exists or one that does not.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFileDescriptors } from "../../codegen/proto/index.ts";
import { Direction, EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { compileSchema } from "../../schema/compile.ts";
import { generateJwtKeys, signJwt, writeKeyFiles } from "../jwt-fixtures.ts";
import { type EntDbClient, entDbClient, serverPerFile, str, tokenArgs } from "./e2e-helpers.ts";

const SCHEMA = `package acme.notes;

node Person = 1 {
  handle: string = 1 [required, unique];
}

node Note = 2 [visibility = private] {
  title: string = 1 [required, unique, searchable];
  rank: int = 2 [index];
}

node Notice = 3 [visibility = public] {
  title: string = 1 [required, unique];
}

edge Wrote = 100 from Person to Note;
`;
const PERSON = 1;
const NOTE = 2;
const NOTICE = 3;
const WROTE = 100;
const schemaPath = join(mkdtempSync(join(tmpdir(), "entdb-matrix-")), "schema.entdb");
writeFileSync(schemaPath, SCHEMA);

/** Callers with a token, and what each is in tenant `acme`. */
const TOKENS = {
  root: "root-token-0123456789", // server administrator, not a member
  alice: "alice-token-0123456789", // owner; owns the private note and the person
  bob: "bob-token-0123456789ab", // member, no grants
  viv: "viv-token-0123456789ab", // viewer
  rita: "rita-token-0123456789a", // member with a read grant on the note
  ed: "ed-token-0123456789abcd", // member with an edit grant on the note
  gus: "gus-token-0123456789ab", // member through group:eng, which has a read grant on the note
  eve: "eve-token-0123456789ab", // member whose read grant on the note expired
  dan: "dan-token-0123456789ab", // member with a read grant through a group, and denied the note
  mallory: "mallory-token-01234567", // authenticated, not a member
  oscar: "oscar-token-0123456789", // owner of another tenant
} as const;
type Named = keyof typeof TOKENS;
/**
 * Every caller of the matrix: the named ones, no token, a token the server does not know,
 * an expired JWT (of user:alice, the owner), and jill, authenticated by a JWT whose
 * `groups` claim is ["eng"] and a member of nothing herself.
 */
type Caller = Named | "none" | "bad" | "expired" | "jill";
const CALLERS: readonly Caller[] = [
  "none",
  "bad",
  "expired",
  "jill",
  ...(Object.keys(TOKENS) as Named[]),
];

const keys = await generateJwtKeys();
const keyFiles = writeKeyFiles(keys);
afterAll(() => keyFiles.remove());
const JWTS = {
  expired: await signJwt(keys.es256, { sub: "alice", expiresIn: -120 }),
  jill: await signJwt(keys.rs256, { sub: "jill", claims: { groups: ["eng"] } }),
} as const;
const MEMBERS = ["alice", "bob", "viv", "rita", "ed", "gus", "eve", "dan"] as const;

const server = serverPerFile({
  schema: schemaPath,
  args: [
    ...tokenArgs(TOKENS, ["root"]),
    "--public-reads",
    "--jwt-issuer",
    "https://id.example.test/",
    "--jwt-audience",
    "entdb-tests",
    "--jwt-jwks-file",
    keyFiles.jwksFile,
    "--jwt-groups-claim",
    "groups",
  ],
});

const TENANT = "acme";
let note = "";
let person = "";
let notice = "";
/** Where the setup's write sits in the tenant's partition (a position that exists). */
let written = { partition: 0, offset: 0n };

/** The bearer token `caller` sends; undefined for none. */
function tokenOf(caller: Caller): string | undefined {
  if (caller === "none") return undefined;
  if (caller === "bad") return "bad-token-0123456789";
  if (caller === "expired" || caller === "jill") return JWTS[caller];
  return TOKENS[caller];
}

function api(caller: Caller, binary = false): EntDbClient {
  return entDbClient(server, { binary, token: tokenOf(caller) });
}

beforeAll(async () => {
  const root = api("root");
  await root.createTenant({ tenant: TENANT, owner: "user:alice" });
  await root.createTenant({ tenant: "globex", owner: "user:oscar" });
  const alice = api("alice");
  for (const m of ["bob", "rita", "ed", "eve", "dan"])
    await alice.addTenantMember({ tenant: TENANT, principal: `user:${m}`, role: "member" });
  await alice.addTenantMember({ tenant: TENANT, principal: "user:viv", role: "viewer" });
  await alice.createGroup({ tenant: TENANT, group: "group:eng" });
  await alice.addGroupMember({ tenant: TENANT, group: "group:eng", principal: "user:gus" });
  await alice.addTenantMember({ tenant: TENANT, principal: "group:eng", role: "member" });
  const made = await alice.executePlan({
    tenant: TENANT,
    idempotencyKey: "setup",
    operations: [
      {
        op: {
          case: "createNode",
          value: { typeId: PERSON, alias: "p", fields: { 1: str("ann") } },
        },
      },
      {
        op: {
          case: "createNode",
          value: { typeId: NOTE, alias: "n", fields: { 1: str("secret") } },
        },
      },
      { op: { case: "createEdge", value: { edgeTypeId: WROTE, fromId: "$p", toId: "$n" } } },
      {
        op: {
          case: "createNode",
          value: { typeId: NOTICE, fields: { 1: str("hello") } },
        },
      },
    ],
  });
  person = made.results[0]?.id ?? "";
  note = made.results[1]?.id ?? "";
  notice = made.results[3]?.id ?? "";
  written = {
    partition: made.receipt?.position?.partition ?? 0,
    offset: made.receipt?.position?.offset ?? 0n,
  };
  const share = (principal: string, capability: string, more = {}) =>
    alice.shareNode({ tenant: TENANT, nodeId: note, principal, capability, ...more });
  await share("user:rita", "read");
  await share("user:ed", "edit");
  await share("group:eng", "read");
  await share("user:eve", "read", { expiresAt: { seconds: 1_000_000_000n, nanos: 0 } });
  // dan keeps a read grant through group:ops, and is denied the note himself: the deny wins.
  await alice.createGroup({ tenant: TENANT, group: "group:ops" });
  await alice.addGroupMember({ tenant: TENANT, group: "group:ops", principal: "user:dan" });
  await share("group:ops", "read");
  await share("user:dan", "", { deny: true });
}, 60_000);

/** A row's expected code per caller, but for the JWT callers, which {@link withJwt} adds. */
type Expect = Readonly<Record<Exclude<Caller, "expired" | "jill">, string>>;

/**
 * The expectations of the JWT callers, from the row: an expired JWT is refused on every
 * RPC, and jill, in group:eng through her token, gets what gus gets through the tenant.
 */
function withJwt(row: Expect): Readonly<Record<Caller, string>> {
  return { ...row, expired: "unauthenticated", jill: row.gus };
}

/**
 * A tenant RPC's expectations: no token or an unknown one is UNAUTHENTICATED, a caller
 * that is not a member (the server admin included) PERMISSION_DENIED, and each member
 * `member` unless `overrides` says otherwise.
 */
function tenantRpc(member: string, overrides: Partial<Expect> = {}): Expect {
  const out: Record<string, string> = {
    none: "unauthenticated",
    bad: "unauthenticated",
    root: "permission_denied",
    mallory: "permission_denied",
    oscar: "permission_denied",
  };
  for (const m of MEMBERS) out[m] = member;
  return { ...(out as Expect), ...overrides };
}

/**
 * A read RPC's expectations: members as {@link tenantRpc}, and `outsider` for the callers
 * that are not members (the server admin, other tenants' users, and no token at all under
 * `--public-reads`), who read public nodes only.
 */
function readRpc(member: string, outsider: string, overrides: Partial<Expect> = {}): Expect {
  return tenantRpc(member, {
    none: outsider,
    root: outsider,
    mallory: outsider,
    oscar: outsider,
    ...overrides,
  });
}

/** Readers of the private note: its owner and the unexpired, undenied grantees. */
const NOTE_READERS = { alice: "ok", rita: "ok", ed: "ok", gus: "ok" } as const;
/** A membership change as decided for each caller allowed to manage: `outcome`. */
function manageRpc(outcome: string): Expect {
  const members = Object.fromEntries(MEMBERS.map((m) => [m, "permission_denied"]));
  return tenantRpc("permission_denied", { ...members, alice: outcome, root: outcome });
}
const listRpc = tenantRpc("ok", { root: "ok" });
const unique = () => `u${Math.random().toString(36).slice(2)}`;
const WRITERS = { viv: "permission_denied" } as const;

/** The generic service: each RPC's call and its expectations. */
const GENERIC: Record<string, { call: (c: EntDbClient) => Promise<unknown>; expect: Expect }> = {
  ExecutePlan: {
    call: (c) =>
      c.executePlan({
        tenant: TENANT,
        operations: [
          {
            op: {
              case: "createNode",
              value: { typeId: PERSON, fields: { 1: str(unique()) } },
            },
          },
        ],
      }),
    expect: tenantRpc("ok", WRITERS),
  },
  GetReceipt: {
    // The outcome of alice's plan: hers only, NOT_FOUND to every other member.
    call: (c) => c.getReceipt({ tenant: TENANT, idempotencyKey: "setup" }),
    expect: tenantRpc("not_found", { alice: "ok" }),
  },
  WaitForPosition: {
    call: (c) => c.waitForPosition({ tenant: TENANT, position: written, timeoutMs: 1 }),
    expect: tenantRpc("ok"),
  },
  GetNode: {
    call: (c) => c.getNode({ tenant: TENANT, typeId: NOTE, id: note }),
    expect: readRpc("not_found", "not_found", NOTE_READERS),
  },
  GetNodes: {
    call: (c) => c.getNodes({ tenant: TENANT, typeId: NOTE, ids: [note] }),
    expect: readRpc("ok", "ok"),
  },
  GetNodeByKey: {
    call: (c) => c.getNodeByKey({ tenant: TENANT, typeId: NOTE, key: { 1: str("secret") } }),
    expect: readRpc("not_found", "not_found", NOTE_READERS),
  },
  QueryNodes: {
    call: (c) => c.queryNodes({ tenant: TENANT, typeId: NOTE }),
    expect: readRpc("ok", "ok"),
  },
  Search: {
    // A private type: every reader searches, and finds only what it may read.
    call: (c) => c.search({ tenant: TENANT, query: "secret", typeIds: [NOTE] }),
    expect: readRpc("ok", "ok"),
  },
  ListMailbox: {
    // alice's mailbox: hers only; no public reading of mailboxes.
    call: (c) => c.listMailbox({ tenant: TENANT, recipient: "user:alice" }),
    expect: tenantRpc("permission_denied", { alice: "ok" }),
  },
  GetMailboxUnreadCounts: {
    // The caller's own mailbox: every member, viewers included, has one.
    call: (c) => c.getMailboxUnreadCounts({ tenant: TENANT }),
    expect: tenantRpc("ok"),
  },
  UpdateMailboxItems: {
    // Changes only the caller's own items (none here), so viewers may too.
    call: (c) => c.updateMailboxItems({ tenant: TENANT, nodeIds: [note], read: true }),
    expect: tenantRpc("ok"),
  },
  ListEdges: {
    call: (c) =>
      c.listEdges({ tenant: TENANT, edgeTypeId: WROTE, nodeId: person, direction: Direction.OUT }),
    expect: readRpc("ok", "ok"),
  },
  Traverse: {
    call: (c) => c.traverse({ tenant: TENANT, startId: person, edgeTypeIds: [WROTE] }),
    expect: readRpc("ok", "ok"),
  },
  GetSchema: {
    call: (c) => c.getSchema({}),
    expect: {
      ...tenantRpc("ok"),
      root: "ok",
      mallory: "ok",
      oscar: "ok",
    },
  },
  // The served schema again: registering it changes nothing, so only the refusal varies.
  PushSchema: {
    call: (c) => c.pushSchema({ source: SCHEMA }),
    expect: { ...tenantRpc("permission_denied"), root: "ok" },
  },
  ListSchemaVersions: {
    call: (c) => c.listSchemaVersions({}),
    expect: { ...tenantRpc("ok"), root: "ok", mallory: "ok", oscar: "ok" },
  },
  CreateTenant: {
    call: (c) => c.createTenant({ tenant: TENANT, owner: "user:alice" }),
    expect: { ...tenantRpc("permission_denied"), root: "already_exists" },
  },
  AddTenantMember: {
    call: (c) => c.addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" }),
    expect: manageRpc("already_exists"),
  },
  SetTenantMemberRole: {
    call: (c) =>
      c.setTenantMemberRole({ tenant: TENANT, principal: "user:nobody", role: "viewer" }),
    expect: manageRpc("not_found"),
  },
  RemoveTenantMember: {
    call: (c) => c.removeTenantMember({ tenant: TENANT, principal: "user:nobody" }),
    expect: manageRpc("not_found"),
  },
  CreateGroup: {
    call: (c) => c.createGroup({ tenant: TENANT, group: "group:eng" }),
    expect: manageRpc("already_exists"),
  },
  AddGroupMember: {
    call: (c) => c.addGroupMember({ tenant: TENANT, group: "group:eng", principal: "user:gus" }),
    expect: manageRpc("already_exists"),
  },
  RemoveGroupMember: {
    call: (c) =>
      c.removeGroupMember({ tenant: TENANT, group: "group:eng", principal: "user:nobody" }),
    expect: manageRpc("not_found"),
  },
  ShareNode: {
    call: (c) =>
      c.shareNode({ tenant: TENANT, nodeId: note, principal: "user:rita", capability: "read" }),
    // Sharing takes admin on the node; a node the caller cannot read is NOT_FOUND.
    expect: tenantRpc("not_found", {
      alice: "ok",
      rita: "permission_denied",
      ed: "permission_denied",
      gus: "permission_denied",
    }),
  },
  RevokeNode: {
    call: (c) => c.revokeNode({ tenant: TENANT, nodeId: note, principal: "user:nobody" }),
    expect: tenantRpc("not_found", {
      rita: "permission_denied",
      ed: "permission_denied",
      gus: "permission_denied",
    }),
  },
  ListTenants: {
    call: (c) => c.listTenants({}),
    expect: { ...tenantRpc("ok"), root: "ok", mallory: "ok", oscar: "ok" },
  },
  ListTenantMembers: { call: (c) => c.listTenantMembers({ tenant: TENANT }), expect: listRpc },
  ListGroups: { call: (c) => c.listGroups({ tenant: TENANT }), expect: listRpc },
  Subscribe: {
    // "ok" when the history sends the private note's creation, which only its readers get;
    // a stream that catches up without it is "not_found".
    call: async (c) => {
      const abort = new AbortController();
      const filters = [{ kind: { case: "nodeId" as const, value: note } }];
      try {
        for await (const r of c.subscribe(
          { tenant: TENANT, fromStart: true, filters },
          { signal: abort.signal },
        )) {
          if (r.changes.some((change) => change.nodeId === note)) return;
          if (r.changes.length === 0) throw new ConnectError("no note", Code.NotFound);
        }
      } finally {
        abort.abort();
      }
    },
    expect: readRpc("not_found", "not_found", NOTE_READERS),
  },
};

/**
 * The typed services: `Service/Method` → the JSON body and expectations. A `stream` row
 * (`Watch`) is "ok" when the history sends the watched node's creation and "not_found"
 * when the stream catches up without it, like `Subscribe` above.
 */
const TYPED: Record<string, { body: () => unknown; expect: Expect; stream?: true }> = {
  "PersonService/Create": {
    body: () => ({ fields: { handle: unique() } }),
    expect: tenantRpc("ok", WRITERS),
  },
  "PersonService/Get": { body: () => ({ id: person }), expect: readRpc("ok", "not_found") },
  "PersonService/Update": {
    body: () => ({ id: person, patch: { handle: unique() }, expectedVersion: "999" }),
    // A member reads the person but edits only what it owns or was shared.
    expect: tenantRpc("permission_denied", { alice: "failed_precondition" }),
  },
  "PersonService/Delete": {
    body: () => ({ id: person, expectedVersion: "999" }),
    expect: tenantRpc("permission_denied", { alice: "failed_precondition" }),
  },
  "PersonService/Query": { body: () => ({}), expect: readRpc("ok", "ok") },
  "PersonService/Watch": {
    body: () => ({ ids: [person], fromStart: true }),
    expect: readRpc("ok", "not_found"),
    stream: true,
  },
  "NoteService/Create": {
    body: () => ({ fields: { title: unique() } }),
    expect: tenantRpc("ok", WRITERS),
  },
  "NoteService/Get": {
    body: () => ({ id: note }),
    expect: readRpc("not_found", "not_found", NOTE_READERS),
  },
  "NoteService/Update": {
    body: () => ({ id: note, patch: { rank: "1" }, expectedVersion: "999" }),
    expect: tenantRpc("not_found", {
      viv: "permission_denied",
      alice: "failed_precondition",
      ed: "failed_precondition",
      rita: "permission_denied",
      gus: "permission_denied",
    }),
  },
  "NoteService/Delete": {
    body: () => ({ id: note, expectedVersion: "999" }),
    expect: tenantRpc("not_found", {
      viv: "permission_denied",
      alice: "failed_precondition",
      ed: "permission_denied",
      rita: "permission_denied",
      gus: "permission_denied",
    }),
  },
  "NoteService/Query": { body: () => ({}), expect: readRpc("ok", "ok") },
  "NoteService/Search": { body: () => ({ query: "secret" }), expect: readRpc("ok", "ok") },
  "NoteService/Watch": {
    body: () => ({ ids: [note], fromStart: true }),
    expect: readRpc("not_found", "not_found", NOTE_READERS),
    stream: true,
  },
  "NoticeService/Create": {
    body: () => ({ fields: { title: unique() } }),
    expect: tenantRpc("ok", WRITERS),
  },
  // A public node: every caller reads it, no token included.
  "NoticeService/Get": { body: () => ({ id: notice }), expect: readRpc("ok", "ok") },
  "NoticeService/Update": {
    body: () => ({ id: notice, patch: { title: unique() }, expectedVersion: "999" }),
    expect: tenantRpc("permission_denied", { alice: "failed_precondition" }),
  },
  "NoticeService/Delete": {
    body: () => ({ id: notice, expectedVersion: "999" }),
    expect: tenantRpc("permission_denied", { alice: "failed_precondition" }),
  },
  "NoticeService/Query": { body: () => ({}), expect: readRpc("ok", "ok") },
  "NoticeService/Watch": {
    body: () => ({ ids: [notice], fromStart: true }),
    expect: readRpc("ok", "ok"),
    stream: true,
  },
  "WroteService/Link": {
    body: () => ({ fromId: person, toId: note }),
    expect: tenantRpc("permission_denied", { alice: "ok" }),
  },
  "WroteService/Unlink": {
    // An edge that does not exist: removing it changes nothing.
    body: () => ({ fromId: person, toId: person }),
    expect: tenantRpc("permission_denied", { alice: "ok" }),
  },
  "WroteService/List": { body: () => ({ fromId: person }), expect: readRpc("ok", "ok") },
  "WroteService/ListInverse": { body: () => ({ toId: note }), expect: readRpc("ok", "ok") },
};

function codeName(err: unknown): string {
  const code = ConnectError.from(err).code;
  return (Code[code] ?? String(code)).replace(/[A-Z]/g, (c, i: number) =>
    i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`,
  );
}

/** The schema's typed services, as the server's reflection describes them. */
const typedRegistry = createFileRegistry(
  create(FileDescriptorSetSchema, {
    file: [
      file_google_protobuf_struct.proto,
      file_google_protobuf_timestamp.proto,
      ...buildFileDescriptors(compileSchema({ path: "matrix.entdb", text: SCHEMA }).schema!),
    ],
  }),
);

/** A typed `Watch` (`path` is `Service/Watch`) as `caller`: see {@link TYPED}. */
async function watch(path: string, body: unknown, caller: Caller): Promise<void> {
  const service = typedRegistry.getService(`acme.notes.${path.split("/")[0]}`);
  if (!service) throw new Error(`no service for ${path}`);
  // The service is only known at run time: its one streaming method, called by name.
  const client = createClient(
    service,
    createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
  ) as unknown as Record<
    string,
    (
      req: unknown,
      options: { headers: Record<string, string>; signal: AbortSignal },
    ) => AsyncIterable<{ changes: readonly { id: string }[] }>
  >;
  const headers: Record<string, string> = { "entdb-tenant": TENANT };
  const token = tokenOf(caller);
  if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
  const abort = new AbortController();
  const id = (body as { ids: string[] }).ids[0];
  try {
    for await (const r of client["watch"]!(body, { headers, signal: abort.signal })) {
      if (r.changes.some((change) => change.id === id)) return;
      if (r.changes.length === 0) throw new ConnectError("not watched", Code.NotFound);
    }
  } finally {
    abort.abort();
  }
}

async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "ok";
  } catch (err) {
    return codeName(err);
  }
}

describe("the authorization matrix", () => {
  it("has a row for every RPC of the generic service and of every typed service", () => {
    expect(EntDbService.methods.map((m) => m.name).sort()).toEqual(Object.keys(GENERIC).sort());
    const compiled = compileSchema({ path: "matrix.entdb", text: SCHEMA });
    const typed = buildFileDescriptors(compiled.schema!).flatMap((f) =>
      f.service.flatMap((s) => s.method.map((m) => `${s.name}/${m.name}`)),
    );
    expect(typed.sort()).toEqual(Object.keys(TYPED).sort());
  });

  for (const [name, row] of Object.entries(GENERIC)) {
    it(`${name}: over Connect JSON and the binary fast path`, async () => {
      for (const binary of [false, true]) {
        const got: Record<string, string> = {};
        for (const caller of CALLERS)
          got[caller] = await outcome(() => row.call(api(caller, binary)));
        expect([binary, got]).toEqual([binary, withJwt(row.expect)]);
      }
    });
  }

  for (const [path, row] of Object.entries(TYPED)) {
    it(`typed ${path}`, async () => {
      const got: Record<string, string> = {};
      for (const caller of CALLERS) {
        if (row.stream) {
          got[caller] = await outcome(() => watch(path, row.body(), caller));
          continue;
        }
        const headers: Record<string, string> = {
          "content-type": "application/json",
          "entdb-tenant": TENANT,
        };
        const token = tokenOf(caller);
        if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
        const res = await fetch(`${server.url}/acme.notes.${path}`, {
          method: "POST",
          headers,
          body: JSON.stringify(row.body()),
        });
        got[caller] = res.ok ? "ok" : ((await res.json()) as { code: string }).code;
      }
      expect(got).toEqual(withJwt(row.expect));
    });
  }
});
