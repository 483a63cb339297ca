/**
 * Query pages of a real `entdb serve` after every kind of write, with its kept pages warm
 * (server/store/query-page-cache.ts keeps the page a query answered, for readers whose
 * access hides nothing of the type, until the tenant's next commit): each test first
 * reads the pages it will read again, over the Connect fast path and over gRPC, then
 * writes and reads them again. A created node, a changed field (its sort key or not), a
 * deleted node show on the next page, cursors included (and a changed field on the next
 * get, whose answer a cached node keeps); a deny put on a member hides
 * the node from that reader's next page and from no one else's, and its revoke shows it
 * again. A commit keeps the kept pages of the types it wrote no node of, so each type's
 * pages are read while the other's change: a team created, renamed or deleted shows on
 * the next team page, beside users written in the same plan. Run on a server without
 * serving threads and on one with a serving thread (its read-only handles move to the
 * writer's later commits on their own).
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { type ExecutePlanRequestSchema, FilterOp } from "../../generated/entdb/v1/entdb_pb.js";
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
const TENANT = "queries";
const T0 = 1_700_000_000;

const servers = {
  "one event loop": serverPerFile({ args: tokenArgs(TOKENS, ["root"]) }),
  "a serving thread": serverPerFile({
    args: [...tokenArgs(TOKENS, ["root"]), "--serve-threads", "1"],
  }),
};

const timestamp = (seconds: number) => ({
  kind: { case: "timestampValue" as const, value: { seconds: BigInt(seconds), nanos: 0 } },
});

function userOp(handle: string, joined: number) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.user,
        fields: {
          [TRACKER.userEmail]: str(`${handle}@example.com`),
          [TRACKER.userDisplayName]: str(handle),
          [TRACKER.userHandle]: str(handle),
          [TRACKER.userJoinedAt]: timestamp(joined),
        },
      },
    },
  };
}

function updateOp(id: string, set: Record<number, ReturnType<typeof str | typeof timestamp>>) {
  return { op: { case: "updateNode" as const, value: { typeId: TRACKER.user, id, set } } };
}

describe.each(Object.entries(servers))("query pages with kept pages warm, %s", (_, server) => {
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

  /** Runs `operations` as alice; a plan that fails throws. */
  async function plan(
    operations: NonNullable<MessageInitShape<typeof ExecutePlanRequestSchema>["operations"]>,
  ) {
    const res = await clients("alice")[0]!.executePlan({ tenant: TENANT, operations });
    return res.results.map((r) => r.id);
  }

  /**
   * Every page of the users who joined at T0 or later, by when they joined, `limit` a
   * page, as `who` reads them on each protocol: each node's id, display name and joining
   * time, and the page sizes. Both protocols must answer alike.
   */
  async function pages(who: Who, limit: number) {
    const seen = [];
    for (const c of clients(who)) {
      const rows: string[] = [];
      const sizes: number[] = [];
      let cursor = "";
      do {
        const page = await c.queryNodes({
          tenant: TENANT,
          typeId: TRACKER.user,
          filters: [{ fieldId: TRACKER.userJoinedAt, op: FilterOp.GTE, values: [timestamp(T0)] }],
          orderBy: { fieldId: TRACKER.userJoinedAt },
          limit,
          cursor,
        });
        for (const n of page.nodes) {
          const name = n.fields[TRACKER.userDisplayName]?.kind;
          const joined = n.fields[TRACKER.userJoinedAt]?.kind;
          rows.push(
            `${n.id} ${name?.case === "stringValue" ? name.value : "?"} ${
              joined?.case === "timestampValue" ? Number(joined.value.seconds) - T0 : "?"
            }`,
          );
        }
        sizes.push(page.nodes.length);
        cursor = page.nextCursor;
      } while (cursor !== "" && sizes.length < 50);
      seen.push({ rows, sizes });
    }
    expect(seen[1]).toEqual(seen[0]);
    return seen[0]!;
  }

  /**
   * The rows in pages of 2 and of all, each read twice (the second read answered from
   * the kept pages); both sizes list the same rows.
   */
  async function rows(who: Who) {
    const all = await pages(who, 100);
    const paged = await pages(who, 2);
    expect(paged.rows).toEqual(all.rows);
    expect(await pages(who, 2)).toEqual(paged);
    expect(await pages(who, 100)).toEqual(all);
    return all.rows;
  }

  let u: string[] = [];
  const row = (i: number, name: string, joined: number) => `${u[i]} ${name} ${joined}`;

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
    u = await plan([userOp("u0", T0 + 10), userOp("u1", T0 + 20), userOp("u2", T0 + 30)]);
  }, 60_000);

  it("show a created node on the next page", async () => {
    expect(await rows("alice")).toEqual([row(0, "u0", 10), row(1, "u1", 20), row(2, "u2", 30)]);
    const [u3 = ""] = await plan([userOp("u3", T0 + 15)]);
    u.push(u3);
    expect(await rows("alice")).toEqual([
      row(0, "u0", 10),
      row(3, "u3", 15),
      row(1, "u1", 20),
      row(2, "u2", 30),
    ]);
  });

  /** `id`'s display name as a get answers it on each protocol, read twice (the second the kept answer). */
  async function nameOf(id: string) {
    const names = [];
    for (const c of [...clients("alice"), ...clients("alice")]) {
      const { node } = await c.getNode({ tenant: TENANT, typeId: TRACKER.user, id });
      const name = node?.fields[TRACKER.userDisplayName]?.kind;
      names.push(name?.case === "stringValue" ? name.value : "?");
    }
    expect(new Set(names).size).toBe(1);
    return names[0];
  }

  it("show a changed field on the next page, in place and moved, and on the next get", async () => {
    expect(await rows("alice")).toHaveLength(4);
    expect(await nameOf(u[1]!)).toBe("u1");
    await plan([updateOp(u[1]!, { [TRACKER.userDisplayName]: str("renamed") })]);
    expect(await nameOf(u[1]!)).toBe("renamed");
    expect(await rows("alice")).toEqual([
      row(0, "u0", 10),
      row(3, "u3", 15),
      row(1, "renamed", 20),
      row(2, "u2", 30),
    ]);
    await plan([updateOp(u[0]!, { [TRACKER.userJoinedAt]: timestamp(T0 + 40) })]);
    expect(await rows("alice")).toEqual([
      row(3, "u3", 15),
      row(1, "renamed", 20),
      row(2, "u2", 30),
      row(0, "u0", 40),
    ]);
  });

  it("drop a deleted node from the next page", async () => {
    expect(await rows("alice")).toHaveLength(4);
    await plan([{ op: { case: "deleteNode", value: { typeId: TRACKER.user, id: u[3]! } } }]);
    expect(await rows("alice")).toEqual([
      row(1, "renamed", 20),
      row(2, "u2", 30),
      row(0, "u0", 40),
    ]);
  });

  it("hide a denied node from that reader's next page, and show it once the deny is taken off", async () => {
    const all = [row(1, "renamed", 20), row(2, "u2", 30), row(0, "u0", 40)];
    expect(await rows("alice")).toEqual(all);
    expect(await rows("bob")).toEqual(all);
    const [alice] = clients("alice");
    await alice!.shareNode({ tenant: TENANT, nodeId: u[2]!, principal: "user:bob", deny: true });
    // Bob first: the page he reads must not be kept for anyone else.
    expect(await rows("bob")).toEqual([row(1, "renamed", 20), row(0, "u0", 40)]);
    expect(await rows("alice")).toEqual(all);
    expect(await rows("bob")).toEqual([row(1, "renamed", 20), row(0, "u0", 40)]);
    await alice!.revokeNode({ tenant: TENANT, nodeId: u[2]!, principal: "user:bob" });
    expect(await rows("bob")).toEqual(all);
    expect(await rows("alice")).toEqual(all);
  });

  /** The teams' ids and names in id order, read twice on each protocol (the second kept). */
  async function teams() {
    const seen = [];
    for (const c of [...clients("alice"), ...clients("alice")]) {
      const page = await c.queryNodes({ tenant: TENANT, typeId: TRACKER.team, limit: 100 });
      seen.push(
        page.nodes.map((n) => {
          const name = n.fields[TRACKER.teamName]?.kind;
          return `${n.id} ${name?.case === "stringValue" ? name.value : "?"}`;
        }),
      );
    }
    for (const other of seen) expect(other).toEqual(seen[0]);
    return seen[0]!;
  }

  it("show a team created, renamed or deleted on the next team page, the users' pages unchanged or changed in the same plan", async () => {
    const users = await rows("alice");
    expect(await teams()).toEqual([]);
    const [t1 = ""] = await plan([teamOp("Team 1", "team-1")]);
    expect(await teams()).toEqual([`${t1} Team 1`]);
    expect(await rows("alice")).toEqual(users);
    const [, t2 = ""] = await plan([
      updateOp(u[2]!, { [TRACKER.userDisplayName]: str("u2 again") }),
      teamOp("Team 2", "team-2"),
      {
        op: {
          case: "updateNode",
          value: { typeId: TRACKER.team, id: t1, set: { [TRACKER.teamName]: str("First") } },
        },
      },
    ]);
    expect(await teams()).toEqual([`${t1} First`, `${t2} Team 2`]);
    expect(await rows("alice")).toEqual(users.map((r) => r.replace(" u2 ", " u2 again ")));
    await plan([{ op: { case: "deleteNode", value: { typeId: TRACKER.team, id: t1 } } }]);
    expect(await teams()).toEqual([`${t2} Team 2`]);
    expect(await rows("alice")).toEqual(users.map((r) => r.replace(" u2 ", " u2 again ")));
  });
});
