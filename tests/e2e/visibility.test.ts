/**
 * `visibility = private` enforced on every read path of a real `entdb serve`
 * (docs/access-control.md): a private node is read by its owner only; to anyone else it
 * reads exactly like a node that does not exist, in point reads, queries (full pages,
 * correct cursors), edge listings (and their counts), traversals and the typed services,
 * and a unique clash with it does not echo its value.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Direction } from "../../generated/entdb/v1/entdb_pb.js";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  tokenArgs,
} from "./e2e-helpers.ts";

const SCHEMA = `package acme.notes;

node Person = 1 {
  handle: string = 1 [required, unique];
}

node Note = 2 [visibility = private] {
  title: string = 1 [required, unique];
  rank: int = 2 [index];
}

node Reply = 3 {
  title: string = 1 [required];
  on: ref<Note> = 2 [inherit_access];
}

edge Wrote = 100 from Person to Note;
`;
const PERSON = 1;
const NOTE = 2;
const REPLY = 3;
const WROTE = 100;

const schemaPath = join(mkdtempSync(join(tmpdir(), "entdb-visibility-")), "schema.entdb");
writeFileSync(schemaPath, SCHEMA);

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
} as const;

const server = serverPerFile({
  schema: schemaPath,
  args: tokenArgs(TOKENS, ["root"]),
});

const TENANT = "notes";

function api(who: keyof typeof TOKENS, binary = false): EntDbClient {
  return entDbClient(server, { token: TOKENS[who], binary });
}

let person = "";
const notes: Record<"alice" | "bob", string[]> = { alice: [], bob: [] };

function createNote(title: string, rank: number) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: NOTE,
        alias: "note",
        fields: {
          1: str(title),
          2: { kind: { case: "intValue" as const, value: BigInt(rank) } },
        },
      },
    },
  };
}

beforeAll(async () => {
  await api("root").createTenant({ tenant: TENANT, owner: "user:alice" });
  await api("alice").addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" });
  const p = await api("alice").executePlan({
    tenant: TENANT,
    operations: [
      { op: { case: "createNode", value: { typeId: PERSON, fields: { 1: str("ann") } } } },
    ],
  });
  person = p.results[0]?.id ?? "";
  // Linking from the person takes edit on it.
  await api("alice").shareNode({
    tenant: TENANT,
    nodeId: person,
    principal: "user:bob",
    capability: "edit",
  });
  for (const [who, count] of [
    ["alice", 5],
    ["bob", 3],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const res = await api(who).executePlan({
        tenant: TENANT,
        operations: [
          createNote(`${who}-secret-${i}`, i),
          {
            op: {
              case: "createEdge",
              value: { edgeTypeId: WROTE, fromId: person, toId: "$note" },
            },
          },
        ],
      });
      notes[who].push(res.results[0]?.id ?? "");
    }
  }
}, 30_000);

describe("a private node read by someone else", () => {
  it("is NOT_FOUND by id with the message of a node that does not exist, on both paths", async () => {
    const hidden = notes.alice[0]!;
    for (const binary of [false, true]) {
      const err = await connectError(
        api("bob", binary).getNode({ tenant: TENANT, typeId: NOTE, id: hidden }),
      );
      const missing = await connectError(
        api("bob", binary).getNode({ tenant: TENANT, typeId: NOTE, id: "n-does-not-exist" }),
      );
      expect(err.code).toBe(Code.NotFound);
      expect(missing.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe(`Note '${hidden}' does not exist.`);
      expect(missing.rawMessage).toBe("Note 'n-does-not-exist' does not exist.");
    }
    const own = await api("alice").getNode({ tenant: TENANT, typeId: NOTE, id: hidden });
    expect(own.node?.owner).toBe("user:alice");
  });

  it("is missing from GetNodes and GetNodeByKey", async () => {
    const res = await api("bob").getNodes({
      tenant: TENANT,
      typeId: NOTE,
      ids: [notes.alice[1]!, notes.bob[0]!],
    });
    expect(res.nodes.map((n) => n.id)).toEqual([notes.bob[0]]);
    expect(res.missingIds).toEqual([notes.alice[1]]);
    const err = await connectError(
      api("bob").getNodeByKey({ tenant: TENANT, typeId: NOTE, key: { 1: str("alice-secret-1") } }),
    );
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("No Note has that key.");
    const own = await api("alice").getNodeByKey({
      tenant: TENANT,
      typeId: NOTE,
      key: { 1: str("alice-secret-1") },
    });
    expect(own.node?.id).toBe(notes.alice[1]);
  });

  it("is filtered inside QueryNodes: full pages and cursors that walk only visible nodes", async () => {
    for (const [who, expected] of [
      ["bob", notes.bob],
      ["alice", notes.alice],
    ] as const) {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor = "";
      do {
        const page = await api(who).queryNodes({
          tenant: TENANT,
          typeId: NOTE,
          limit: 2,
          cursor,
          orderBy: { fieldId: 2, descending: false },
        });
        seen.push(...page.nodes.map((n) => n.id));
        sizes.push(page.nodes.length);
        cursor = page.nextCursor;
      } while (cursor !== "");
      expect(seen).toEqual(expected);
      expect(sizes).toEqual(expected.length === 3 ? [2, 1] : [2, 2, 1]);
    }
  });

  it("is not listed by ListEdges, and the count agrees", async () => {
    for (const [who, expected] of [
      ["bob", notes.bob],
      ["alice", notes.alice],
    ] as const) {
      const res = await api(who).listEdges({
        tenant: TENANT,
        edgeTypeId: WROTE,
        nodeId: person,
        direction: Direction.OUT,
        includeCount: true,
        limit: 100,
      });
      expect(res.edges.map((e) => e.toId)).toEqual([...expected].sort());
      expect(res.totalCount).toBe(BigInt(expected.length));
    }
    const from = await api("bob").listEdges({
      tenant: TENANT,
      edgeTypeId: WROTE,
      nodeId: notes.alice[0]!,
      direction: Direction.IN,
      includeCount: true,
    });
    expect(from.edges).toEqual([]);
    expect(from.totalCount).toBe(0n);
  });

  it("is neither returned nor walked by Traverse", async () => {
    const res = await api("bob").traverse({
      tenant: TENANT,
      startId: person,
      edgeTypeIds: [WROTE],
      maxDepth: 1,
    });
    expect(res.nodes.map((n) => n.node?.id)).toEqual([...notes.bob].sort());
    const fromHidden = await api("bob").traverse({
      tenant: TENANT,
      startId: notes.alice[0]!,
      edgeTypeIds: [WROTE],
      direction: Direction.IN,
    });
    expect(fromHidden.nodes).toEqual([]);
  });

  it("is NOT_FOUND from the typed service", async () => {
    const res = await fetch(`${server.url}/acme.notes.NoteService/Get`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "entdb-tenant": TENANT,
        authorization: `Bearer ${TOKENS.bob}`,
      },
      body: JSON.stringify({ id: notes.alice[2] }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("not_found");
  });

  it("does not echo its value in a unique clash", async () => {
    const err = await connectError(
      api("bob").executePlan({ tenant: TENANT, operations: [createNote("alice-secret-3", 9)] }),
    );
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.rawMessage).toBe(
      "Another node of type 2 has the same value of unique field 1. (operation 0: Note.title)",
    );
    expect(err.rawMessage).not.toContain("alice-secret");
  });

  it("leaves tenant-visible types readable by every member", async () => {
    const res = await api("bob").getNode({ tenant: TENANT, typeId: PERSON, id: person });
    expect(res.node?.owner).toBe("user:alice");
  });
});

describe("grants", () => {
  const get = (who: keyof typeof TOKENS, id: string) =>
    api(who).getNode({ tenant: TENANT, typeId: NOTE, id });
  const share = (
    who: keyof typeof TOKENS,
    nodeId: string,
    principal: string,
    capability: string,
    more: { deny?: boolean; expiresAt?: { seconds: bigint; nanos: number } } = {},
  ) => api(who).shareNode({ tenant: TENANT, nodeId, principal, capability, ...more });
  const update = (who: keyof typeof TOKENS, id: string, rank: number) =>
    api(who).executePlan({
      tenant: TENANT,
      operations: [
        {
          op: {
            case: "updateNode",
            value: {
              typeId: NOTE,
              id,
              set: { 2: { kind: { case: "intValue", value: BigInt(rank) } } },
            },
          },
        },
      ],
    });

  it("a read grant shows the node in reads and queries, but does not let the grantee edit it", async () => {
    const a = notes.alice[0]!;
    await share("alice", a, "user:bob", "read");
    expect((await get("bob", a)).node?.id).toBe(a);
    const page = await api("bob").queryNodes({ tenant: TENANT, typeId: NOTE, limit: 100 });
    expect(page.nodes.map((n) => n.id).sort()).toEqual([a, ...notes.bob].sort());
    const err = await connectError(update("bob", a, 7));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      `'user:bob' lacks the edit capability on node "${a}"; its owner, or a principal with admin on it, can share it. (operation 0)`,
    );
  });

  it("an edit grant to a role lets its members update, not delete; a revoke takes it back", async () => {
    const a = notes.alice[1]!;
    await share("alice", a, "role:member", "edit");
    const done = await update("bob", a, 8);
    expect(done.results[0]?.version).toBe(2n);
    const del = await connectError(
      api("bob").executePlan({
        tenant: TENANT,
        operations: [{ op: { case: "deleteNode", value: { typeId: NOTE, id: a } } }],
      }),
    );
    expect(del.code).toBe(Code.PermissionDenied);
    expect(del.rawMessage).toContain("lacks the delete capability");
    await api("alice").revokeNode({ tenant: TENANT, nodeId: a, principal: "role:member" });
    const gone = await connectError(get("bob", a));
    expect(gone.code).toBe(Code.NotFound);
    expect(gone.rawMessage).toBe(`Note '${a}' does not exist.`);
  });

  it("an expired grant counts for nothing, on reads and on writes", async () => {
    const a = notes.alice[2]!;
    const past = { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 };
    await share("alice", a, "user:bob", "edit", { expiresAt: past });
    expect((await connectError(get("bob", a))).code).toBe(Code.NotFound);
    const err = await connectError(update("bob", a, 9));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe(`No node of type 2 has id "${a}". (operation 0: Note)`);
    const future = { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
    await share("alice", a, "user:bob", "read", { expiresAt: future });
    expect((await get("bob", a)).node?.id).toBe(a);
  });

  it("a deny overrides grants and visibility, but not ownership", async () => {
    const a = notes.alice[3]!;
    await share("alice", a, "role:member", "read");
    expect((await get("bob", a)).node?.id).toBe(a);
    await share("alice", a, "user:bob", "", { deny: true });
    expect((await connectError(get("bob", a))).code).toBe(Code.NotFound);
    // A deny also hides a node whose type every member reads.
    await share("alice", person, "user:bob", "", { deny: true });
    const hiddenPerson = await connectError(
      api("bob").getNode({ tenant: TENANT, typeId: PERSON, id: person }),
    );
    expect(hiddenPerson.rawMessage).toBe(`Person '${person}' does not exist.`);
    await api("alice").revokeNode({ tenant: TENANT, nodeId: person, principal: "user:bob" });
    // The owner cannot be denied its own node.
    const b = notes.bob[0]!;
    await share("bob", b, "user:alice", "admin");
    await share("alice", b, "user:bob", "", { deny: true });
    expect((await get("bob", b)).node?.owner).toBe("user:bob");
  });

  it("sharing takes admin on the node, and a node one cannot read is NOT_FOUND", async () => {
    const a = notes.alice[4]!;
    await share("alice", a, "user:bob", "delete");
    const err = await connectError(share("bob", a, "user:bob", "admin"));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      `'user:bob' lacks the admin capability on node "${a}", which sharing and revoking take.`,
    );
    const hidden = await connectError(share("bob", notes.alice[1]!, "user:bob", "admin"));
    const missing = await connectError(share("bob", "n-missing", "user:bob", "admin"));
    expect(hidden.code).toBe(Code.NotFound);
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toBe('No node has id "n-missing".');
    expect(hidden.rawMessage).toBe(`No node has id "${notes.alice[1]}".`);
    const bad = await connectError(share("alice", a, "user:bob", "owner"));
    expect(bad.code).toBe(Code.InvalidArgument);
  });
});

describe("alternate paths", () => {
  const get = (who: keyof typeof TOKENS, id: string) =>
    api(who).getNode({ tenant: TENANT, typeId: NOTE, id });
  it("a cursor from someone else's query pages only through what the holder may read", async () => {
    const first = await api("alice").queryNodes({
      tenant: TENANT,
      typeId: NOTE,
      limit: 1,
      orderBy: { fieldId: 2, descending: false },
    });
    expect(first.nextCursor).not.toBe("");
    const page = await api("bob").queryNodes({
      tenant: TENANT,
      typeId: NOTE,
      limit: 100,
      cursor: first.nextCursor,
      orderBy: { fieldId: 2, descending: false },
    });
    // Every node on the page is one bob reads by id too; alice's unshared note is not there.
    expect(page.nodes.length).toBeGreaterThan(0);
    for (const n of page.nodes) expect((await get("bob", n.id)).node?.id).toBe(n.id);
    expect(page.nodes.map((n) => n.id)).not.toContain(notes.alice[1]);
  });
});

describe("inherit_access", () => {
  it("a reply is read by exactly those who read the note it answers", async () => {
    const made = await api("alice").executePlan({
      tenant: TENANT,
      operations: [
        createNote("inherited-note", 50),
        {
          op: {
            case: "createNode",
            value: {
              typeId: REPLY,
              fields: { 1: str("re"), 2: { kind: { case: "refValue", value: "$note" } } },
            },
          },
        },
      ],
    });
    const [noteId, replyId] = made.results.map((r) => r.id);
    const bobReads = async () =>
      (await api("bob").queryNodes({ tenant: TENANT, typeId: REPLY })).nodes.map((n) => n.id);
    const hidden = await connectError(
      api("bob").getNode({ tenant: TENANT, typeId: REPLY, id: replyId! }),
    );
    expect(hidden.rawMessage).toBe(`Reply '${replyId}' does not exist.`);
    expect(await bobReads()).not.toContain(replyId);
    await api("alice").shareNode({
      tenant: TENANT,
      nodeId: noteId!,
      principal: "user:bob",
      capability: "read",
    });
    expect(
      (await api("bob").getNode({ tenant: TENANT, typeId: REPLY, id: replyId! })).node?.id,
    ).toBe(replyId);
    expect(await bobReads()).toContain(replyId);
    // Reading is all inheritance gives: editing the reply still takes a grant on it.
    const edit = await connectError(
      api("bob").executePlan({
        tenant: TENANT,
        operations: [
          {
            op: {
              case: "updateNode",
              value: { typeId: REPLY, id: replyId!, set: { 1: str("mine now") } },
            },
          },
        ],
      }),
    );
    expect(edit.code).toBe(Code.PermissionDenied);
  });
});

describe("grants to groups, and members removed (docs/access-control.md, Limits)", () => {
  /** What bob sees of one note on every read path. */
  async function bobSees(id: string) {
    const bob = api("bob");
    const got = await bob.getNode({ tenant: TENANT, typeId: NOTE, id }).then(
      () => true,
      () => false,
    );
    const many = await bob.getNodes({ tenant: TENANT, typeId: NOTE, ids: [id] });
    const page = await bob.queryNodes({ tenant: TENANT, typeId: NOTE, limit: 1000 });
    const edges = await bob.listEdges({
      tenant: TENANT,
      nodeId: person,
      edgeTypeId: WROTE,
      direction: Direction.OUT,
      limit: 1000,
      includeCount: true,
    });
    const walk = await bob.traverse({
      tenant: TENANT,
      startId: person,
      edgeTypeIds: [WROTE],
      direction: Direction.OUT,
      maxDepth: 1,
    });
    return {
      get: got,
      getNodes: many.nodes.some((n) => n.id === id),
      query: page.nodes.some((n) => n.id === id),
      edges: edges.edges.some((e) => e.toId === id),
      edgeCount: Number(edges.totalCount ?? -1),
      traverse: walk.nodes.some((n) => n.node?.id === id),
    };
  }
  const seen = { get: true, getNodes: true, query: true, edges: true, traverse: true };
  const unseen = { get: false, getNodes: false, query: false, edges: false, traverse: false };

  it("follows a group's membership at once, takes effect for a group made later, and survives a member's removal", async () => {
    const res = await api("alice").executePlan({
      tenant: TENANT,
      operations: [
        createNote("alice-group-note", 50),
        { op: { case: "createEdge", value: { edgeTypeId: WROTE, fromId: person, toId: "$note" } } },
      ],
    });
    const id = res.results[0]?.id ?? "";
    const before = await bobSees(id);
    expect(before).toMatchObject(unseen);
    expect(before.edgeCount).toBeGreaterThanOrEqual(0);
    const share = (principal: string) =>
      api("alice").shareNode({ tenant: TENANT, nodeId: id, principal, capability: "read" });

    // A grant to a group that does not exist yet is applied, and held by nobody...
    await share("group:later");
    expect(await bobSees(id)).toMatchObject(unseen);
    // ...until the group is made and bob is put in it: every read path sees it at once.
    await api("alice").createGroup({ tenant: TENANT, group: "group:later" });
    await api("alice").addGroupMember({
      tenant: TENANT,
      group: "group:later",
      principal: "user:bob",
    });
    expect(await bobSees(id)).toEqual({ ...seen, edgeCount: before.edgeCount + 1 });
    await api("alice").removeGroupMember({
      tenant: TENANT,
      group: "group:later",
      principal: "user:bob",
    });
    expect(await bobSees(id)).toEqual({ ...unseen, edgeCount: before.edgeCount });

    // A member removed from the tenant keeps the grants naming it: added again, it reads.
    await share("user:bob");
    expect(await bobSees(id)).toMatchObject(seen);
    await api("alice").removeTenantMember({ tenant: TENANT, principal: "user:bob" });
    const out = await connectError(api("bob").getNode({ tenant: TENANT, typeId: NOTE, id }));
    expect(out.code).toBe(Code.PermissionDenied);
    await api("alice").addTenantMember({ tenant: TENANT, principal: "user:bob", role: "member" });
    expect(await bobSees(id)).toMatchObject(seen);

    // A group's name stays taken.
    const again = await connectError(
      api("alice").createGroup({ tenant: TENANT, group: "group:later" }),
    );
    expect(again.code).toBe(Code.AlreadyExists);
  });
});
