/**
 * Per-user mailboxes against a real `entdb serve` (docs/mailbox.md): `mailbox` edges
 * deliver to one principal or to every member of a group in the write's transaction;
 * ListMailbox pages newest first with its filters; state changes go through the log;
 * unread counts follow them; a principal reads only its own mailbox; Search can be
 * restricted to it; deleting a node takes its items; and replaying the log into an empty
 * data dir gives the same tenant database, mailbox included, byte for byte.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChangeKind,
  type MailboxItem,
  type SubscribeResponse,
} from "../../generated/entdb/v1/entdb_pb.js";
import { EntDbClientCore } from "../../runtime/client-core.ts";
import { createNodeTransport } from "../../runtime/node.ts";
import type { SchemaMeta } from "../../runtime/schema-meta.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { connectError, type EntDbClient, entDbClient, str, tokenArgs } from "./e2e-helpers.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import { readUntil } from "./subscribe-helpers.ts";

const SCHEMA = `package acme.mail;

node User = 1 {
  principal: string = 1 [required, unique];
}

node Team = 2 {
  principal: string = 1 [required, unique];
}

node Message = 3 {
  subject: string = 1 [required, searchable];
}

node Task = 4 {
  title: string = 1 [required];
}

edge SentTo = 100 from Message to User [mailbox = principal];
edge SentToTeam = 101 from Message to Team [mailbox = principal];
edge AssignedTo = 102 from Task to User [mailbox = principal];

/** Private: only its owner (alice) and those it is shared with read it. */
node Thread = 5 [visibility = private] {
  title: string = 1 [required];
}

edge InThread = 103 from Message to Thread;
`;
const USER = 1;
const TEAM = 2;
const MESSAGE = 3;
const TASK = 4;
const THREAD = 5;
const SENT_TO = 100;
const SENT_TO_TEAM = 101;
const ASSIGNED_TO = 102;
const IN_THREAD = 103;
/** Members of group:crowd besides bob and carol, who have no token. */
const CROWD = 250;

const dir = mkdtempSync(join(tmpdir(), "entdb-mailbox-"));
const schemaPath = join(dir, "schema.entdb");
writeFileSync(schemaPath, SCHEMA);
const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
  carol: "carol-token-0123456789",
} as const;
const ARGS = tokenArgs(TOKENS, ["root"]);
const TENANT = "acme";

let server: ServerProcess;
const dataDir = tempDataDir("entdb-mailbox-");
const api = (who: keyof typeof TOKENS): EntDbClient => entDbClient(server, { token: TOKENS[who] });
let bobUser = "";
let carolUser = "";
let crowdTeam = "";

beforeAll(async () => {
  server = await startServerProcess({ schema: schemaPath, dataDir, args: ARGS });
  await api("root").createTenant({ tenant: TENANT, owner: "user:alice" });
  const alice = api("alice");
  for (const m of ["bob", "carol"])
    await alice.addTenantMember({ tenant: TENANT, principal: `user:${m}`, role: "member" });
  await alice.createGroup({ tenant: TENANT, group: "group:crowd" });
  const members = ["user:bob", "user:carol"];
  for (let i = 0; i < CROWD; i++) members.push(`user:m${String(i).padStart(3, "0")}`);
  for (let i = 0; i < members.length; i += 50) {
    await Promise.all(
      members
        .slice(i, i + 50)
        .map((principal) =>
          alice.addGroupMember({ tenant: TENANT, group: "group:crowd", principal }),
        ),
    );
  }
  const made = await alice.executePlan({
    tenant: TENANT,
    operations: [
      node(USER, "user:bob"),
      node(USER, "user:carol"),
      node(TEAM, "group:crowd"),
      // Not principals a mailbox can be delivered to: nothing is.
      node(USER, "tenant:*"),
      node(USER, "not a principal"),
    ],
  });
  [bobUser = "", carolUser = "", crowdTeam = ""] = made.results.map((r) => r.id);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  removeDataDir(dataDir);
  rmSync(dir, { recursive: true, force: true });
});

function node(typeId: number, principal: string) {
  return {
    op: { case: "createNode" as const, value: { typeId, fields: { 1: str(principal) } } },
  };
}

/** Alice creates a node of `typeId` titled `text` and links it with `edges` (edge type, to). */
async function send(
  typeId: number,
  text: string,
  edges: readonly (readonly [number, string])[],
): Promise<string> {
  const res = await api("alice").executePlan({
    tenant: TENANT,
    operations: [
      { op: { case: "createNode", value: { typeId, alias: "m", fields: { 1: str(text) } } } },
      ...edges.map(([edgeTypeId, toId]) => ({
        op: { case: "createEdge" as const, value: { edgeTypeId, fromId: "$m", toId } },
      })),
    ],
  });
  return res.results[0]?.id ?? "";
}

/** Every item of `who`'s mailbox, page by page (`limit` per page), with `filters`. */
async function listAll(
  who: keyof typeof TOKENS,
  filters: Record<string, unknown> = {},
  limit = 2,
): Promise<MailboxItem[]> {
  const out: MailboxItem[] = [];
  let cursor = "";
  for (;;) {
    const page = await api(who).listMailbox({ tenant: TENANT, limit, cursor, ...filters });
    out.push(...page.items);
    if (page.nextCursor === "") return out;
    cursor = page.nextCursor;
  }
}

const ids = (items: readonly MailboxItem[]) => items.map((i) => i.node?.id);

describe("mailbox delivery", () => {
  it("delivers to the principal a mailbox edge names and to every member of a named group, first delivery's reason kept", async () => {
    const hello = await send(MESSAGE, "hello crowd", [
      [SENT_TO, bobUser],
      [SENT_TO_TEAM, crowdTeam],
    ]);
    const [bobItem] = (await api("bob").listMailbox({ tenant: TENANT, limit: 1 })).items;
    expect(bobItem?.node?.id).toBe(hello);
    expect(bobItem?.reasonEdgeTypeId).toBe(SENT_TO);
    expect([bobItem?.read, bobItem?.archived, bobItem?.starred]).toEqual([false, false, false]);
    const [carolItem] = (await api("carol").listMailbox({ tenant: TENANT, limit: 1 })).items;
    expect(carolItem?.node?.id).toBe(hello);
    expect(carolItem?.reasonEdgeTypeId).toBe(SENT_TO_TEAM);
    expect(carolItem?.deliveredAt).toEqual(bobItem?.deliveredAt);
    // alice sent it and is in no group: her mailbox is empty.
    expect((await api("alice").listMailbox({ tenant: TENANT })).items).toEqual([]);
  });

  it("lists newest first in keyset pages, filtered by type, unread and time range", async () => {
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await send(MESSAGE, `note ${i}`, [[SENT_TO, carolUser]]));
    const task = await send(TASK, "file the report", [[ASSIGNED_TO, carolUser]]);
    const all = await listAll("carol");
    expect(ids(all).slice(0, 6)).toEqual([task, ...[...sent].reverse()]);
    expect(all).toHaveLength(7); // and "hello crowd"
    expect(ids(await listAll("carol", { typeIds: [TASK] }))).toEqual([task]);
    const from = all[4]?.deliveredAt; // sent[1]
    const to = all[1]?.deliveredAt; // sent[4], excluded
    expect(ids(await listAll("carol", { deliveredAfter: from, deliveredBefore: to }))).toEqual([
      sent[3],
      sent[2],
      sent[1],
    ]);
    const counts = await api("carol").getMailboxUnreadCounts({ tenant: TENANT });
    expect(counts.total).toBe(7n);
    expect(counts.byType.map((t) => [t.typeId, t.unread])).toEqual([
      [MESSAGE, 6n],
      [TASK, 1n],
    ]);
    const bad = await connectError(
      api("carol").listMailbox({
        tenant: TENANT,
        cursor: (await api("carol").listMailbox({ tenant: TENANT, limit: 1 })).nextCursor,
        typeIds: [TASK],
      }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe(
      "The cursor was made for other filters; send the same filters, or start again without a cursor.",
    );
  });

  it("marks items read, archived and starred through the log; counts and filters follow", async () => {
    const carol = api("carol");
    const all = await listAll("carol");
    const [newest, second, third] = ids(all) as string[];
    const read = await carol.updateMailboxItems({
      tenant: TENANT,
      nodeIds: [newest!, second!],
      read: true,
      idempotencyKey: "carol-read",
    });
    expect(read.receipt?.applied).toBe(true);
    expect(read.receipt?.replayed).toBe(false);
    const again = await carol.updateMailboxItems({
      tenant: TENANT,
      nodeIds: [newest!, second!],
      read: true,
      idempotencyKey: "carol-read",
    });
    expect(again.receipt?.replayed).toBe(true);
    expect(again.receipt?.position).toEqual(read.receipt?.position);
    await carol.updateMailboxItems({
      tenant: TENANT,
      nodeIds: [third!],
      archived: true,
      starred: true,
    });
    expect((await carol.getMailboxUnreadCounts({ tenant: TENANT })).total).toBe(4n);
    const unread = await listAll("carol", { unreadOnly: true });
    expect(ids(unread)).not.toContain(newest);
    expect(ids(unread)).not.toContain(third);
    expect(unread).toHaveLength(4);
    expect(ids(await listAll("carol"))).not.toContain(third);
    const starred = await listAll("carol", { starredOnly: true, includeArchived: true });
    expect(starred.map((i) => [i.node?.id, i.read, i.archived, i.starred])).toEqual([
      [third, false, true, true],
    ]);
    await carol.updateMailboxItems({ tenant: TENANT, nodeIds: [newest!], read: false });
    expect((await carol.getMailboxUnreadCounts({ tenant: TENANT })).total).toBe(5n);
    // bob's state is his own: carol's changes did not touch the item they share.
    const [bobItem] = (await api("bob").listMailbox({ tenant: TENANT })).items;
    expect(bobItem?.read).toBe(false);
  });

  it("refuses another principal's mailbox and a change that changes nothing", async () => {
    for (const call of [
      () => api("bob").listMailbox({ tenant: TENANT, recipient: "user:carol" }),
      () => api("bob").getMailboxUnreadCounts({ tenant: TENANT, recipient: "user:carol" }),
    ]) {
      const err = await connectError(call());
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toBe(
        "'user:bob' may read and change only its own mailbox, not that of 'user:carol'; leave `recipient` empty.",
      );
    }
    const own = await api("bob").listMailbox({ tenant: TENANT, recipient: "user:bob" });
    expect(own.items).toHaveLength(1);
    const none = await connectError(
      api("bob").updateMailboxItems({ tenant: TENANT, nodeIds: ["x"] }),
    );
    expect(none.code).toBe(Code.InvalidArgument);
    expect(none.rawMessage).toBe(
      "The request changes nothing: set `read`, `archived` or `starred`.",
    );
    const empty = await connectError(api("bob").updateMailboxItems({ tenant: TENANT, read: true }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toBe("The request names 0 node ids; send 1 to 1000 in `node_ids`.");
  });

  it("searches only the caller's mailbox when asked to", async () => {
    const toBob = await send(MESSAGE, "quarterly budget for bob", [[SENT_TO, bobUser]]);
    const toCarol = await send(MESSAGE, "quarterly budget for carol", [[SENT_TO, carolUser]]);
    const everywhere = await api("bob").search({ tenant: TENANT, query: "quarterly" });
    expect(everywhere.hits.map((h) => h.node?.id).sort()).toEqual([toBob, toCarol].sort());
    const mine = await api("bob").search({ tenant: TENANT, query: "quarterly", mailbox: true });
    expect(mine.hits.map((h) => h.node?.id)).toEqual([toBob]);
    expect(mine.hits[0]?.snippets[0]?.text).toBe("[quarterly] budget for bob");
  });

  it("drops a node's items when the node is deleted", async () => {
    const gone = await send(MESSAGE, "retracted", [[SENT_TO, bobUser]]);
    expect(ids((await api("bob").listMailbox({ tenant: TENANT, limit: 1 })).items)).toEqual([gone]);
    await api("alice").executePlan({
      tenant: TENANT,
      operations: [{ op: { case: "deleteNode", value: { typeId: MESSAGE, id: gone } } }],
    });
    expect(ids(await listAll("bob", {}, 10))).not.toContain(gone);
  });

  it("offers the mailbox to clients: list decoded by accessor name, unread counts, mark read, archive, star", async () => {
    const principal = { principal: { id: 1, kind: "string" } } as const;
    const meta: SchemaMeta = {
      package: "acme.mail",
      nodes: {
        user: { id: USER, name: "User", fields: principal },
        team: { id: TEAM, name: "Team", fields: principal },
        message: { id: MESSAGE, name: "Message", fields: { subject: { id: 1, kind: "string" } } },
      },
      edges: {
        sentTo: { id: SENT_TO, name: "SentTo", from: MESSAGE, to: USER, fields: {} },
      },
    };
    const bob = new EntDbClientCore({
      tenant: TENANT,
      token: TOKENS.bob,
      schema: meta,
      transport: createNodeTransport({
        baseUrl: server.url,
        protocol: "connect",
        httpVersion: "1.1",
      }),
    });
    const sent = await send(MESSAGE, "via the client", [[SENT_TO, bobUser]]);
    const page = await bob.mailbox.list({ types: ["message"], unread: true, limit: 1 });
    expect(page.items.map((i) => [i.type, i.node.id, i.node["subject"], i.reason, i.read])).toEqual(
      [["message", sent, "via the client", "sentTo", false]],
    );
    expect(page.next).toBeDefined();
    const unread = await bob.mailbox.unreadCounts();
    // An empty key is none: the change goes under a fresh key of the client's (a UUIDv7),
    // kept across its retries, not '' (which the server would log anew at every attempt).
    const receipt = await bob.mailbox.markRead(sent, { idempotencyKey: "" });
    expect(receipt.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(await bob.mailbox.unreadCounts()).toEqual({
      total: unread.total - 1,
      byType: { message: unread.total - 1 },
    });
    await bob.mailbox.star([sent]);
    await bob.mailbox.archive(sent);
    expect((await bob.mailbox.list({ limit: 1 })).items[0]?.node.id).not.toBe(sent);
    const [archived] = (await bob.mailbox.list({ starred: true, includeArchived: true })).items;
    expect([archived?.node.id, archived?.read, archived?.archived, archived?.starred]).toEqual([
      sent,
      true,
      true,
      true,
    ]);
    await expect(bob.mailbox.list({ types: ["mesage"] })).rejects.toThrow(
      "db.mailbox.list: 'mesage' is not a node type of this client; use one of user, team, message.",
    );
  });

  it("offers mailbox search to clients: only the caller's mailbox, hits decoded by accessor name", async () => {
    const meta: SchemaMeta = {
      package: "acme.mail",
      nodes: {
        message: { id: MESSAGE, name: "Message", fields: { subject: { id: 1, kind: "string" } } },
      },
      edges: {},
    };
    const client = (who: keyof typeof TOKENS) =>
      new EntDbClientCore({
        tenant: TENANT,
        token: TOKENS[who],
        schema: meta,
        transport: createNodeTransport({
          baseUrl: server.url,
          protocol: "connect",
          httpVersion: "1.1",
        }),
      });
    const toBob = await send(MESSAGE, "zephyr minutes for bob", [[SENT_TO, bobUser]]);
    const toCarol = await send(MESSAGE, "zephyr minutes for carol", [[SENT_TO, carolUser]]);
    const bob = client("bob");
    const page = await bob.mailbox.search("zephyr", {
      types: ["message"],
      highlight: { start: "<b>", end: "</b>" },
    });
    expect(page.items.map((h) => [h.type, h.node.id, h.node["subject"], h.snippets])).toEqual([
      ["message", toBob, "zephyr minutes for bob", { subject: "<b>zephyr</b> minutes for bob" }],
    ]);
    expect(page.next).toBeUndefined();
    const carol = client("carol");
    expect((await carol.mailbox.search("zephyr")).items.map((h) => h.node.id)).toEqual([toCarol]);
    // The tests below count carol's unread items.
    await carol.mailbox.markRead(toCarol);
    await expect(bob.mailbox.search("zephyr", { types: ["mesage"] })).rejects.toThrow(
      "db.mailbox.search: 'mesage' is not a node type of this client; use one of message.",
    );
  });

  it("streams the changes of the caller's mailbox to a mailbox subscription, and only the caller's", async () => {
    const abort = new AbortController();
    const stream = api("bob").subscribe(
      { tenant: TENANT, filters: [{ kind: { case: "mailbox", value: "user:bob" } }] },
      { signal: abort.signal },
    );
    const got: SubscribeResponse[] = [];
    try {
      const toCarol = await send(MESSAGE, "not for bob", [[SENT_TO, carolUser]]);
      const toBob = await send(MESSAGE, "for bob", [[SENT_TO, bobUser]]);
      const delivered = (rs: readonly SubscribeResponse[]) =>
        rs.some((r) => r.changes.some((c) => c.kind === ChangeKind.EDGE_CREATED));
      await readUntil(stream, got, delivered);
      const changes = got.flatMap((r) => r.changes);
      expect(changes.map((c) => [c.kind, c.nodeId || c.edge?.fromId])).toEqual([
        [ChangeKind.NODE_CREATED, toBob],
        [ChangeKind.EDGE_CREATED, toBob],
      ]);
      expect(JSON.stringify(changes.map((c) => [c.nodeId, c.edge?.fromId]))).not.toContain(toCarol);
    } finally {
      abort.abort();
    }
    const err = await connectError(
      (async () => {
        for await (const _ of api("bob").subscribe({
          tenant: TENANT,
          filters: [{ kind: { case: "mailbox", value: "user:carol" } }],
        }))
          break;
      })(),
    );
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "'user:bob' may read and change only its own mailbox, not that of 'user:carol'; set `mailbox` to your own principal.",
    );
  });

  it("watches the caller's mailbox from the client with core.watch({ mailbox }), and refuses another's", async () => {
    const core = (who: "bob" | "carol") =>
      new EntDbClientCore({
        tenant: TENANT,
        token: TOKENS[who],
        transport: createNodeTransport({ baseUrl: server.url, httpVersion: "2" }),
      });
    // Watch from a position before both sends, so no change can come before the stream opens.
    const marker = await api("alice").executePlan({
      tenant: TENANT,
      operations: [node(TASK, "marker")],
    });
    const after = marker.receipt?.position;
    if (after === undefined) throw new Error("the marker write has no position");
    const toCarol = await send(MESSAGE, "watched, not for bob", [[SENT_TO, carolUser]]);
    const toBob = await send(MESSAGE, "watched, for bob", [[SENT_TO, bobUser]]);
    const seen: [string, string][] = [];
    for await (const c of core("bob").watch({ mailbox: "user:bob", after })) {
      seen.push([c.kind, c.nodeId || (c.edge?.fromId ?? "")]);
      if (c.kind === "edgeCreated") break;
    }
    expect(seen).toEqual([
      ["nodeCreated", toBob],
      ["edgeCreated", toBob],
    ]);
    expect(JSON.stringify(seen)).not.toContain(toCarol);
    // The tests below count carol's unread items.
    await api("carol").updateMailboxItems({ tenant: TENANT, nodeIds: [toCarol], read: true });
    const refused = (async () => {
      for await (const _ of core("bob").watch({ mailbox: "user:carol" })) break;
    })();
    await expect(refused).rejects.toThrow(
      "'user:bob' may read and change only its own mailbox, not that of 'user:carol'; set `mailbox` to your own principal.",
    );
  });

  it("tells a mailbox subscription of the deletion of a node its mailbox held, live and on resume", async () => {
    const abort = new AbortController();
    const bob = api("bob");
    const stream = bob.subscribe(
      { tenant: TENANT, filters: [{ kind: { case: "mailbox", value: "user:bob" } }] },
      { signal: abort.signal },
    );
    const got: SubscribeResponse[] = [];
    const remove = (id: string) =>
      api("alice").executePlan({
        tenant: TENANT,
        operations: [{ op: { case: "deleteNode", value: { typeId: MESSAGE, id } } }],
      });
    const deletedIn = (rs: readonly SubscribeResponse[]) =>
      rs.flatMap((r) => r.changes.filter((c) => c.kind === ChangeKind.NODE_DELETED));
    let toBob = "";
    let toCarol = "";
    try {
      toCarol = await send(MESSAGE, "gone, not for bob", [[SENT_TO, carolUser]]);
      toBob = await send(MESSAGE, "gone, for bob", [[SENT_TO, bobUser]]);
      await remove(toCarol);
      await remove(toBob);
      await readUntil(stream, got, (rs) => deletedIn(rs).length > 0);
    } finally {
      abort.abort();
    }
    const changes = got.flatMap((r) => r.changes);
    expect(changes.map((c) => [c.kind, c.nodeId || c.edge?.fromId])).toEqual([
      [ChangeKind.NODE_CREATED, toBob],
      [ChangeKind.EDGE_CREATED, toBob],
      [ChangeKind.NODE_DELETED, toBob],
    ]);

    // Resumed from the delivery, the history read back from the log holds the deletion.
    const delivered = got.find((r) => r.changes.some((c) => c.kind === ChangeKind.EDGE_CREATED));
    const again = new AbortController();
    const resumed: SubscribeResponse[] = [];
    try {
      await readUntil(
        bob.subscribe(
          {
            tenant: TENANT,
            filters: [{ kind: { case: "mailbox", value: "user:bob" } }],
            ...(delivered?.position ? { after: delivered.position } : {}),
          },
          { signal: again.signal },
        ),
        resumed,
        (rs) => deletedIn(rs).length > 0,
      );
    } finally {
      again.abort();
    }
    expect(delivered?.position).toBeDefined();
    expect(resumed.flatMap((r) => r.changes).map((c) => [c.kind, c.nodeId])).toEqual([
      [ChangeKind.NODE_DELETED, toBob],
    ]);
  });

  it("filters by thread: items whose node has an edge of a type to a parent the caller may read", async () => {
    const alice = api("alice");
    const threads = await alice.executePlan({
      tenant: TENANT,
      operations: [
        { op: { case: "createNode", value: { typeId: THREAD, fields: { 1: str("launch") } } } },
        { op: { case: "createNode", value: { typeId: THREAD, fields: { 1: str("secret") } } } },
      ],
    });
    const [launch = "", secret = ""] = threads.results.map((r) => r.id);
    await alice.shareNode({
      tenant: TENANT,
      nodeId: launch,
      principal: "user:bob",
      capability: "read",
    });
    const first = await send(MESSAGE, "launch plan", [
      [SENT_TO, bobUser],
      [IN_THREAD, launch],
    ]);
    const inSecret = await send(MESSAGE, "secret plan", [
      [SENT_TO, bobUser],
      [IN_THREAD, secret],
    ]);
    const second = await send(MESSAGE, "re: launch plan", [
      [SENT_TO, bobUser],
      [IN_THREAD, launch],
    ]);
    const loose = await send(MESSAGE, "no thread", [[SENT_TO, bobUser]]);
    const inLaunch = { parentId: launch, parentEdgeTypeId: IN_THREAD };
    expect(ids(await listAll("bob", inLaunch, 1))).toEqual([second, first]);
    const unfiltered = ids(await listAll("bob", {}, 50));
    expect(unfiltered.slice(0, 4)).toEqual([loose, second, inSecret, first]);
    // bob reads the message but not its thread: the filter matches nothing, as for a
    // thread that does not exist.
    expect(ids(await listAll("bob", { parentId: secret, parentEdgeTypeId: IN_THREAD }))).toEqual(
      [],
    );
    expect(
      ids(await listAll("bob", { parentId: "no-such-node", parentEdgeTypeId: IN_THREAD })),
    ).toEqual([]);
    // Another edge type to the same node: SentTo goes to users, not threads.
    expect(ids(await listAll("bob", { parentId: launch, parentEdgeTypeId: SENT_TO }))).toEqual([]);
    // Every item of bob's came by a SentTo edge to his User node.
    expect(ids(await listAll("bob", { parentId: bobUser, parentEdgeTypeId: SENT_TO }, 50))).toEqual(
      unfiltered,
    );

    const page = await api("bob").listMailbox({ tenant: TENANT, limit: 1, ...inLaunch });
    const other = await connectError(
      api("bob").listMailbox({
        tenant: TENANT,
        cursor: page.nextCursor,
        parentId: secret,
        parentEdgeTypeId: IN_THREAD,
      }),
    );
    expect(other.code).toBe(Code.InvalidArgument);
    expect(other.rawMessage).toBe(
      "The cursor was made for other filters; send the same filters, or start again without a cursor.",
    );
    const half = await connectError(api("bob").listMailbox({ tenant: TENANT, parentId: launch }));
    expect(half.code).toBe(Code.InvalidArgument);
    expect(half.rawMessage).toBe(
      "The parent filter needs both `parent_id` and `parent_edge_type_id`; `parent_edge_type_id` is 0.",
    );
    const unknown = await connectError(
      api("bob").listMailbox({ tenant: TENANT, parentId: launch, parentEdgeTypeId: 999 }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toBe(
      "Edge type 999 is not in the schema; set `parent_edge_type_id` to one of 100 (SentTo), 101 (SentToTeam), 102 (AssignedTo), 103 (InThread).",
    );

    const meta: SchemaMeta = {
      package: "acme.mail",
      nodes: {
        message: { id: MESSAGE, name: "Message", fields: { subject: { id: 1, kind: "string" } } },
      },
      edges: {
        sentTo: { id: SENT_TO, name: "SentTo", from: MESSAGE, to: USER, fields: {} },
        inThread: { id: IN_THREAD, name: "InThread", from: MESSAGE, to: THREAD, fields: {} },
      },
    };
    const bob = new EntDbClientCore({
      tenant: TENANT,
      token: TOKENS.bob,
      schema: meta,
      transport: createNodeTransport({
        baseUrl: server.url,
        protocol: "connect",
        httpVersion: "1.1",
      }),
    });
    const thread = await bob.mailbox.list({ parent: { edge: "inThread", id: launch } });
    expect(thread.items.map((i) => [i.node.id, i.node["subject"]])).toEqual([
      [second, "re: launch plan"],
      [first, "launch plan"],
    ]);
    await expect(bob.mailbox.list({ parent: { edge: "inThred", id: launch } })).rejects.toThrow(
      "db.mailbox.list: 'inThred' is not an edge type of this client; use one of sentTo, inThread.",
    );
  });

  it("leaves the item of a node the caller may not read alone, as that of a node that does not exist", async () => {
    const alice = api("alice");
    const carol = api("carol");
    const hidden = await send(MESSAGE, "not for carol yet", [[SENT_TO, carolUser]]);
    await alice.shareNode({ tenant: TENANT, nodeId: hidden, principal: "user:carol", deny: true });
    const listed = async () =>
      (await listAll("carol", { includeArchived: true }, 50)).filter((i) => i.node?.id === hidden);
    expect(await listed()).toEqual([]);
    const unread = (await carol.getMailboxUnreadCounts({ tenant: TENANT })).total;
    // The same answer for the hidden node as for one that does not exist.
    for (const nodeId of [hidden, "0190d1b2-0000-7000-8000-00000000dead"]) {
      const marked = await carol.updateMailboxItems({
        tenant: TENANT,
        nodeIds: [nodeId],
        read: true,
        archived: true,
        starred: true,
      });
      expect(marked.receipt?.applied).toBe(true);
      expect(marked.receipt?.replayed).toBe(false);
    }
    // Shared again: the item is as it was delivered, not as carol marked it unseen.
    await alice.revokeNode({ tenant: TENANT, nodeId: hidden, principal: "user:carol" });
    const [item] = await listed();
    expect([item?.read, item?.archived, item?.starred]).toEqual([false, false, false]);
    expect((await carol.getMailboxUnreadCounts({ tenant: TENANT })).total).toBe(unread + 1n);
    // Now that carol reads it, her marks apply.
    await carol.updateMailboxItems({ tenant: TENANT, nodeIds: [hidden], read: true });
    const [read] = await listed();
    expect([read?.read, read?.archived, read?.starred]).toEqual([true, false, false]);
  });

  it("rebuilds the same tenant database, every delivery and state included, by replaying the log", async () => {
    const unread = (await api("carol").getMailboxUnreadCounts({ tenant: TENANT })).total;
    expect(unread).toBe(7n);
    expect(await server.stop()).toBe(0);
    const path = join(dataDir, "tenants", tenantFileName(TENANT));
    const before = canonicalDump(path);
    // The crowd message reached every member of group:crowd once.
    const crowdRows = before
      .split("\n")
      .filter((l) => l.startsWith('"user:m') && l.includes(` | ${MESSAGE} | ${SENT_TO_TEAM} | `));
    expect(crowdRows).toHaveLength(CROWD);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
    server = await startServerProcess({ schema: schemaPath, dataDir, args: ARGS });
    expect((await api("carol").getMailboxUnreadCounts({ tenant: TENANT })).total).toBe(unread);
    expect(await server.stop()).toBe(0);
    expect(canonicalDump(path)).toBe(before);
    server = await startServerProcess({ schema: schemaPath, dataDir, args: ARGS });
  });
});
