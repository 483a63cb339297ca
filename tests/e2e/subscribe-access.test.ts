/**
 * `Subscribe` is access-filtered like every read (docs/subscriptions.md): a non-member
 * is refused before anything is read, a private node and its deletion are delivered
 * only to those who read it (a deletion judged on the node's tombstone), and a member
 * removed from the tenant has its stream ended.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { ChangeKind, type SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  tokenArgs,
} from "./e2e-helpers.ts";
import { readUntil } from "./subscribe-helpers.ts";

const SCHEMA = `package acme.notes;

node Person = 1 {
  handle: string = 1 [required, unique];
}

node Note = 2 [visibility = private] {
  title: string = 1 [required];
}
`;
const PERSON = 1;
const NOTE = 2;

const schemaPath = join(mkdtempSync(join(tmpdir(), "entdb-subscribe-access-")), "schema.entdb");
writeFileSync(schemaPath, SCHEMA);

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
  carol: "carol-token-0123456789",
  mallory: "mallory-token-01234567",
} as const;

const server = serverPerFile({ schema: schemaPath, args: tokenArgs(TOKENS, ["root"]) });
const TENANT = "notes";

function api(who: keyof typeof TOKENS): EntDbClient {
  return entDbClient(server, { token: TOKENS[who], binary: true });
}

function create(typeId: number, value: string) {
  return {
    op: { case: "createNode" as const, value: { typeId, fields: { 1: str(value) } } },
  };
}

async function write(who: keyof typeof TOKENS, op: ReturnType<typeof create>): Promise<string> {
  const r = await api(who).executePlan({ tenant: TENANT, operations: [op] });
  return r.results[0]!.id;
}

function del(typeId: number, id: string) {
  return { op: { case: "deleteNode" as const, value: { typeId, id } } };
}

/** Every change `who` is sent from the start, up to the first checkpoint. */
async function history(who: keyof typeof TOKENS): Promise<string[]> {
  const abort = new AbortController();
  const got: SubscribeResponse[] = [];
  await readUntil(
    api(who).subscribe({ tenant: TENANT, fromStart: true }, { signal: abort.signal }),
    got,
    (r) => r.some((x) => x.changes.length === 0),
  );
  abort.abort();
  return got.flatMap((r) => r.changes.map((c) => `${ChangeKind[c.kind]} ${c.nodeId}`));
}

beforeAll(async () => {
  await api("root").createTenant({ tenant: TENANT, owner: "user:alice" });
  await api("alice").addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" });
  await api("alice").addTenantMember({ tenant: TENANT, principal: "user:carol", role: "viewer" });
});

describe("Subscribe and access", () => {
  it("refuses a caller that is not a member, before reading anything", async () => {
    const err = await connectError(
      (async () => {
        for await (const _ of api("mallory").subscribe({ tenant: TENANT, fromStart: true })) return;
      })(),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "'user:mallory' is not a member of tenant 'notes'; a tenant admin or owner can add it with AddTenantMember.",
    );
  });

  it("delivers a private node, and its deletion, only to those who read it, also in history", async () => {
    const person = await write("alice", create(PERSON, "ada"));
    const aliceNote = await write("alice", create(NOTE, "alice's secret"));
    const bobNote = await write("bob", create(NOTE, "bob's secret"));
    await api("alice").executePlan({ tenant: TENANT, operations: [del(NOTE, aliceNote)] });
    await api("alice").executePlan({ tenant: TENANT, operations: [del(PERSON, person)] });

    // A created node that is gone by delivery is not sent (it reads as missing); the
    // deletion of a tenant-visible node is sent to every member, that of a private one
    // to those who read it (its tombstone keeps the owner; grants outlive the node).
    expect(await history("bob")).toEqual([`NODE_CREATED ${bobNote}`, `NODE_DELETED ${person}`]);
    expect(await history("alice")).toEqual([`NODE_DELETED ${aliceNote}`, `NODE_DELETED ${person}`]);
    expect(await history("carol")).toEqual([`NODE_DELETED ${person}`]);
  });

  it("sends the live deletion of a shared private node to its owner and the reader it was shared with, not to others", async () => {
    const streams = (["alice", "bob", "carol"] as const).map((who) => {
      const abort = new AbortController();
      const got: SubscribeResponse[] = [];
      const stream = api(who).subscribe(
        { tenant: TENANT, filters: [{ kind: { case: "nodeTypeId", value: NOTE } }] },
        { signal: abort.signal },
      );
      return { who, abort, got, stream };
    });
    for (const s of streams) await readUntil(s.stream, s.got, (r) => r.length === 1);
    const note = await write("bob", create(NOTE, "shared, then deleted"));
    await api("bob").shareNode({
      tenant: TENANT,
      nodeId: note,
      principal: "user:carol",
      capability: "read",
    });
    await api("bob").executePlan({ tenant: TENANT, operations: [del(NOTE, note)] });
    // Each stream ends with a change of a note its reader can read, made after the
    // deletion (carol's: bob's note shared with her, then updated; a share sends nothing).
    const marks = new Map<string, string>();
    marks.set("alice", await write("alice", create(NOTE, "mark for alice")));
    marks.set("bob", await write("bob", create(NOTE, "mark for bob")));
    const carolMark = await write("bob", create(NOTE, "mark for carol"));
    await api("bob").shareNode({
      tenant: TENANT,
      nodeId: carolMark,
      principal: "user:carol",
      capability: "read",
    });
    await api("bob").executePlan({
      tenant: TENANT,
      operations: [
        {
          op: {
            case: "updateNode",
            value: { typeId: NOTE, id: carolMark, set: { 1: str("mark for carol, edited") } },
          },
        },
      ],
    });
    marks.set("carol", carolMark);
    const seen = new Map<string, string[]>();
    for (const s of streams) {
      const mark = marks.get(s.who)!;
      await readUntil(s.stream, s.got, (r) =>
        r.some((x) => x.changes.some((c) => c.nodeId === mark)),
      );
      s.abort.abort();
      seen.set(
        s.who,
        s.got
          .flatMap((r) => r.changes)
          .filter((c) => c.kind === ChangeKind.NODE_DELETED)
          .map((c) => c.nodeId),
      );
    }
    expect(Object.fromEntries(seen)).toEqual({ alice: [], bob: [note], carol: [note] });
  });

  it("sends a shared private node once it is shared, and nothing of the share itself", async () => {
    const abort = new AbortController();
    const stream = api("carol").subscribe(
      { tenant: TENANT, filters: [{ kind: { case: "nodeTypeId", value: NOTE } }] },
      { signal: abort.signal },
    );
    const got: SubscribeResponse[] = [];
    await readUntil(stream, got, (r) => r.length === 1);
    const hidden = await write("bob", create(NOTE, "hidden from carol"));
    const shared = await write("bob", create(NOTE, "for carol"));
    await api("bob").shareNode({
      tenant: TENANT,
      nodeId: shared,
      principal: "user:carol",
      capability: "read",
    });
    await api("bob").executePlan({
      tenant: TENANT,
      operations: [
        {
          op: {
            case: "updateNode",
            value: { typeId: NOTE, id: shared, set: { 1: str("for carol, edited") } },
          },
        },
      ],
    });
    await readUntil(stream, got, (r) => r.some((x) => x.changes.length > 0));
    abort.abort();
    const changes = got.flatMap((r) => r.changes);
    expect(changes.map((c) => `${ChangeKind[c.kind]} ${c.nodeId}`)).toEqual([
      `NODE_UPDATED ${shared}`,
    ]);
    expect(changes[0]!.node?.fields[1]?.kind).toEqual({
      case: "stringValue",
      value: "for carol, edited",
    });
    expect(hidden).not.toBe(shared);
  });

  it("ends the stream of a member removed from the tenant with PERMISSION_DENIED", async () => {
    await api("alice").addTenantMember({
      tenant: TENANT,
      principal: "user:mallory",
      role: "viewer",
    });
    const abort = new AbortController();
    const stream = api("mallory").subscribe({ tenant: TENANT }, { signal: abort.signal });
    const got: SubscribeResponse[] = [];
    await readUntil(stream, got, (r) => r.length === 1);
    await api("alice").removeTenantMember({ tenant: TENANT, principal: "user:mallory" });
    await write("alice", create(PERSON, "after-removal"));
    const err = await readUntil(stream, got, () => false, 10_000).catch((e: unknown) => e);
    abort.abort();
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect(got.flatMap((r) => r.changes)).toEqual([]);
  });
});
