/**
 * Edge pages of a real `entdb serve` after every kind of write, with the server's edge
 * cache warm (server/store/edge-cache.ts keeps each node's edges and the order of its
 * first other ends, and answers a page from them without a statement): each test first
 * reads the pages it will read again, over the Connect fast path and over gRPC, then
 * writes and reads them again. A link, an unlink, a changed edge's props and a node's
 * deletion (which deletes its edges at both ends without naming them) show on the next
 * page at both ends, counts and cursors included; a deny put on a member and taken off
 * again hides and shows its edges to that reader on the next page, and to no one else.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { Direction, type ExecutePlanRequestSchema } from "../../generated/entdb/v1/entdb_pb.js";
import {
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  TRACKER,
  teamOp,
  tokenArgs,
} from "./e2e-helpers.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
} as const;
type Who = keyof typeof TOKENS;
const TENANT = "edges";

// With a serving thread, the two protocols' connections are served by different threads
// (each client is one HTTP/2 connection): both threads' caches are checked after each write,
// and a serving thread's read-only handle must forget its cached grants and denies when it
// moves to the writer's later commit (server/threads/read-only-tenants.ts).
const server = serverPerFile({ args: [...tokenArgs(TOKENS, ["root"]), "--serve-threads", "1"] });

/** A client per caller and protocol: Connect binary over HTTP/2 (the fast path) and gRPC. */
function clients(who: Who): EntDbClient[] {
  return [
    entDbClient(server, {
      protocol: "connect",
      httpVersion: "2",
      binary: true,
      token: TOKENS[who],
    }),
    entDbClient(server, { protocol: "grpc", token: TOKENS[who] }),
  ];
}

const timestamp = (seconds: number) => ({
  kind: { case: "timestampValue" as const, value: { seconds: BigInt(seconds), nanos: 0 } },
});

function userOp(handle: string) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.user,
        alias: handle,
        fields: {
          [TRACKER.userEmail]: str(`${handle}@example.com`),
          [TRACKER.userDisplayName]: str(handle),
          [TRACKER.userHandle]: str(handle),
          [TRACKER.userJoinedAt]: timestamp(1_700_000_000),
        },
      },
    },
  };
}

function link(fromId: string, toId: string, since = 1_700_000_000) {
  return {
    op: {
      case: "createEdge" as const,
      value: {
        edgeTypeId: TRACKER.memberOf,
        fromId,
        toId,
        props: { [TRACKER.memberOfSince]: timestamp(since) },
      },
    },
  };
}

function unlink(fromId: string, toId: string) {
  return {
    op: {
      case: "deleteEdge" as const,
      value: { edgeTypeId: TRACKER.memberOf, fromId, toId },
    },
  };
}

/** Runs `operations` as alice; a plan that fails throws. */
async function plan(
  operations: NonNullable<MessageInitShape<typeof ExecutePlanRequestSchema>["operations"]>,
) {
  const res = await clients("alice")[0]!.executePlan({ tenant: TENANT, operations });
  return res.results.map((r) => r.id);
}

/**
 * Every page of `node`'s MemberOf edges in `direction` as `who` reads it on each
 * protocol, with and without counts, `limit` a page: the other ends in order, each
 * edge's `since` (seconds), the count each page reports (-1 without) and the page
 * sizes. Both protocols must answer alike, and both walks list the same edges.
 */
async function pages(who: Who, node: string, direction: Direction, limit = 1000) {
  const seen = [];
  for (const [c, includeCount] of clients(who).flatMap((c) => [
    [c, false] as const,
    [c, true] as const,
  ])) {
    const ends: string[] = [];
    const since: number[] = [];
    const counts: bigint[] = [];
    const sizes: number[] = [];
    let cursor = "";
    do {
      const page = await c.listEdges({
        tenant: TENANT,
        edgeTypeId: TRACKER.memberOf,
        nodeId: node,
        direction,
        limit,
        cursor,
        includeCount,
      });
      for (const e of page.edges) {
        ends.push(direction === Direction.OUT ? e.toId : e.fromId);
        const value = e.props[TRACKER.memberOfSince]?.kind;
        since.push(value?.case === "timestampValue" ? Number(value.value.seconds) : -1);
      }
      counts.push(page.totalCount ?? -1n);
      sizes.push(page.edges.length);
      cursor = page.nextCursor;
    } while (cursor !== "" && sizes.length < 50);
    seen.push({ ends, since, counts, sizes });
  }
  const [plain, counted] = [seen[0]!, seen[1]!];
  expect({ ...plain, counts: [] }).toEqual({ ...counted, counts: [] });
  expect(plain.counts.every((n) => n === -1n)).toBe(true);
  expect(seen[2]).toEqual(plain);
  expect(seen[3]).toEqual(counted);
  return counted;
}

/**
 * The other ends of one page of all, read first and last (so the page a write must
 * change first is the one read last before it), and of pages of every size from 1 to 4.
 */
async function ends(who: Who, node: string, direction: Direction) {
  const all = await pages(who, node, direction);
  for (const limit of [1, 2, 3, 4]) {
    const paged = await pages(who, node, direction, limit);
    expect(paged.ends).toEqual(all.ends);
    expect(paged.since).toEqual(all.since);
    expect(paged.counts.every((n) => n === BigInt(all.ends.length))).toBe(true);
  }
  expect(all.counts).toEqual([BigInt(all.ends.length)]);
  expect(await pages(who, node, direction)).toEqual(all);
  return all.ends;
}

const sorted = (ids: readonly string[]) => [...ids].sort();

let users: string[] = [];
let team = "";
let other = "";

beforeAll(async () => {
  await entDbClient(server, { token: TOKENS.root }).createTenant({
    tenant: TENANT,
    owner: "user:alice",
  });
  await clients("alice")[0]!.addTenantMember({
    tenant: TENANT,
    principal: "user:bob",
    role: "member",
  });
  const ids = await plan([
    ...["u0", "u1", "u2", "u3", "u4"].map(userOp),
    teamOp("Core", "core"),
    teamOp("Other", "other"),
  ]);
  users = ids.slice(0, 5);
  [team = "", other = ""] = ids.slice(5);
  await plan([link(users[0]!, team), link(users[1]!, team), link(users[2]!, team)]);
}, 60_000);

describe("edge pages with the edge cache warm", () => {
  it("show a link at both ends on the next page", async () => {
    const [u0, u1, u2, u3] = users as [string, string, string, string];
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2]));
    expect(await ends("alice", u3, Direction.OUT)).toEqual([]);
    await plan([link(u3, team), link(u3, other)]);
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2, u3]));
    expect(sorted(await ends("alice", u3, Direction.OUT))).toEqual(sorted([team, other]));
    expect(await ends("alice", other, Direction.IN)).toEqual([u3]);
  });

  it("show a changed edge's props at both ends on the next page", async () => {
    const u0 = users[0]!;
    const before = await pages("alice", u0, Direction.OUT);
    expect(before.since).toEqual([1_700_000_000]);
    const inbound = await pages("alice", team, Direction.IN);
    await plan([link(u0, team, 1_800_000_000)]);
    expect((await pages("alice", u0, Direction.OUT)).since).toEqual([1_800_000_000]);
    const after = await pages("alice", team, Direction.IN);
    expect(after.ends).toEqual(inbound.ends);
    expect(after.since[after.ends.indexOf(u0)]).toBe(1_800_000_000);
  });

  it("show an unlink at both ends on the next page", async () => {
    const [u0, u1, u2, u3] = users as [string, string, string, string];
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2, u3]));
    expect(await ends("alice", u1, Direction.OUT)).toEqual([team]);
    await plan([unlink(u1, team)]);
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u2, u3]));
    expect(await ends("alice", u1, Direction.OUT)).toEqual([]);
    await plan([link(u1, team)]);
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2, u3]));
    expect(await ends("alice", u1, Direction.OUT)).toEqual([team]);
  });

  it("drop a deleted node's edges from its neighbours' pages, and its own", async () => {
    const [u0, u1, u2, u3] = users as [string, string, string, string];
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2, u3]));
    expect(await ends("alice", other, Direction.IN)).toEqual([u3]);
    expect(sorted(await ends("alice", u3, Direction.OUT))).toEqual(sorted([team, other]));
    await plan([{ op: { case: "deleteNode", value: { typeId: TRACKER.user, id: u3 } } }]);
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(sorted([u0, u1, u2]));
    expect(await ends("alice", other, Direction.IN)).toEqual([]);
    expect(await ends("alice", u3, Direction.OUT)).toEqual([]);
  });

  it("hide a denied member's edges from that reader on the next page, and show them once the deny is taken off", async () => {
    const [u0, u1, u2] = users as [string, string, string];
    const members = sorted([u0, u1, u2]);
    for (const who of ["alice", "bob"] as const)
      expect(sorted(await ends(who, team, Direction.IN))).toEqual(members);
    expect(await ends("bob", u2, Direction.OUT)).toEqual([team]);
    const [alice] = clients("alice");
    await alice!.shareNode({ tenant: TENANT, nodeId: u2, principal: "user:bob", deny: true });
    expect(sorted(await ends("bob", team, Direction.IN))).toEqual(sorted([u0, u1]));
    // A hidden node has no edges to list.
    expect(await ends("bob", u2, Direction.OUT)).toEqual([]);
    expect(sorted(await ends("alice", team, Direction.IN))).toEqual(members);
    await alice!.revokeNode({ tenant: TENANT, nodeId: u2, principal: "user:bob" });
    expect(sorted(await ends("bob", team, Direction.IN))).toEqual(members);
    expect(await ends("bob", u2, Direction.OUT)).toEqual([team]);
  });
});
