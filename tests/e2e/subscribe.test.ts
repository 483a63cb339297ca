/**
 * `Subscribe` against a real `entdb serve` (docs/subscriptions.md): history then live
 * changes in log order, each with its position; resuming after a position neither
 * repeats nor skips an event; filters by node type, node and edge type; bad requests;
 * and a subscriber that does not read is cut off with a resumable RESOURCE_EXHAUSTED
 * instead of growing the server's memory.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ChangeKind, type SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import {
  connectError,
  type EntDbClientOptions,
  entDbClient,
  serverPerFile,
  str,
  TRACKER,
} from "./e2e-helpers.ts";
import { createdIds, positionText, readUntil, teamCreate } from "./subscribe-helpers.ts";

const BUFFER = 20;
const server = serverPerFile({ env: { ENTDB_SUBSCRIBER_BUFFER: String(BUFFER) } });

function userCreate(handle: string) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.user,
        alias: "u",
        fields: {
          [TRACKER.userEmail]: str(`${handle}@example.com`),
          [TRACKER.userDisplayName]: str(handle),
          [TRACKER.userHandle]: str(handle),
          [TRACKER.userJoinedAt]: {
            kind: { case: "timestampValue" as const, value: { seconds: 1n, nanos: 0 } },
          },
        },
      },
    },
  };
}

async function createTeams(tenant: string, slugs: readonly string[]): Promise<string[]> {
  const api = entDbClient(server, { binary: true });
  const ids: string[] = [];
  for (const slug of slugs) {
    const r = await api.executePlan({ tenant, operations: [teamCreate(slug)] });
    ids.push(r.results[0]!.id);
  }
  return ids;
}

describe.each<[string, string, EntDbClientOptions]>([
  ["Connect over HTTP/1.1", "h1", { httpVersion: "1.1" }],
  ["Connect over HTTP/2", "h2", { httpVersion: "2", binary: true }],
  ["gRPC", "grpc", { protocol: "grpc" }],
])("Subscribe (%s)", (_, name, options) => {
  it("delivers the history, then live changes, in log order with their positions", async () => {
    const tenant = `sub-order-${name}`;
    const before = await createTeams(tenant, ["a", "b", "c"]);
    const abort = new AbortController();
    const stream = entDbClient(server, options).subscribe(
      { tenant, fromStart: true },
      { signal: abort.signal },
    );
    const got: SubscribeResponse[] = [];
    await readUntil(stream, got, (r) => createdIds(r).length === 3);
    const after = await createTeams(tenant, ["d", "e"]);
    await readUntil(stream, got, (r) => createdIds(r).length === 5);
    abort.abort();

    expect(createdIds(got)).toEqual([...before, ...after]);
    const changes = got.filter((r) => r.changes.length > 0);
    const offsets = changes.map((r) => r.position!.offset);
    expect(offsets).toEqual([...offsets].sort((x, y) => Number(x - y)));
    expect(new Set(offsets).size).toBe(offsets.length);
    const first = changes[0]!.changes[0]!;
    expect(first.kind).toBe(ChangeKind.NODE_CREATED);
    expect(first.typeId).toBe(TRACKER.team);
    expect(first.operationIndex).toBe(0);
    expect(first.node?.id).toBe(before[0]);
    expect(first.node?.fields[TRACKER.teamSlug]?.kind).toEqual({
      case: "stringValue",
      value: "a",
    });
  });
});

describe("Subscribe", () => {
  it("resumes after a position with no gap and no duplicate", async () => {
    const tenant = "sub-resume";
    const ids = await createTeams(tenant, ["r1", "r2", "r3", "r4"]);
    const api = entDbClient(server, { binary: true });
    const first = new AbortController();
    const got: SubscribeResponse[] = [];
    await readUntil(
      api.subscribe({ tenant, fromStart: true }, { signal: first.signal }),
      got,
      (r) => createdIds(r).length === 2,
    );
    first.abort();
    const more = await createTeams(tenant, ["r5"]);
    const second = new AbortController();
    const resumed: SubscribeResponse[] = [];
    await readUntil(
      api.subscribe({ tenant, after: got.at(-1)!.position! }, { signal: second.signal }),
      resumed,
      (r) => createdIds(r).length === 3,
    );
    second.abort();
    expect([...createdIds(got), ...createdIds(resumed)]).toEqual([...ids, ...more]);
  });

  it("without a position starts at the tenant's applied position and says so", async () => {
    const tenant = "sub-now";
    await createTeams(tenant, ["old"]);
    const abort = new AbortController();
    const stream = entDbClient(server).subscribe({ tenant }, { signal: abort.signal });
    const got: SubscribeResponse[] = [];
    // The first message is the checkpoint at the applied position: nothing to send yet.
    await readUntil(stream, got, (r) => r.length === 1);
    expect(got[0]!.changes).toEqual([]);
    const [fresh] = await createTeams(tenant, ["new"]);
    await readUntil(stream, got, (r) => createdIds(r).length === 1);
    abort.abort();
    expect(createdIds(got)).toEqual([fresh]);
    expect(got[1]!.position!.offset).toBeGreaterThan(got[0]!.position!.offset);
  });

  it("filters by node type, by node and by edge type", async () => {
    const tenant = "sub-filters";
    const api = entDbClient(server, { binary: true });
    const plan = await api.executePlan({
      tenant,
      operations: [
        userCreate("ada"),
        teamCreate("core"),
        {
          op: {
            case: "createEdge",
            value: {
              edgeTypeId: TRACKER.memberOf,
              fromId: "$u",
              toId: "$t",
              props: {
                [TRACKER.memberOfSince]: {
                  kind: { case: "timestampValue", value: { seconds: 1n, nanos: 0 } },
                },
              },
            },
          },
        },
      ],
    });
    const [user, team] = [plan.results[0]!.id, plan.results[1]!.id];
    await api.executePlan({
      tenant,
      operations: [
        {
          op: {
            case: "updateNode",
            value: { typeId: TRACKER.team, id: team, set: { 3: str("the core team") } },
          },
        },
      ],
    });
    const read = async (filters: object[], count: number) => {
      const abort = new AbortController();
      const got: SubscribeResponse[] = [];
      await readUntil(
        api.subscribe({ tenant, fromStart: true, filters }, { signal: abort.signal }),
        got,
        (r) => r.some((x) => x.changes.length === 0),
      );
      abort.abort();
      const changes = got.flatMap((r) => r.changes);
      expect(changes).toHaveLength(count);
      return changes.map((c) => [
        ChangeKind[c.kind],
        c.nodeId || `${c.edge?.fromId}->${c.edge?.toId}`,
      ]);
    };
    expect(await read([{ kind: { case: "nodeTypeId", value: TRACKER.user } }], 1)).toEqual([
      ["NODE_CREATED", user],
    ]);
    expect(await read([{ kind: { case: "nodeId", value: team } }], 3)).toEqual([
      ["NODE_CREATED", team],
      ["EDGE_CREATED", `${user}->${team}`],
      ["NODE_UPDATED", team],
    ]);
    expect(await read([{ kind: { case: "edgeTypeId", value: TRACKER.memberOf } }], 1)).toEqual([
      ["EDGE_CREATED", `${user}->${team}`],
    ]);
  });

  it("answers a bad request with INVALID_ARGUMENT saying what to fix", async () => {
    const api = entDbClient(server);
    const first = async (request: Parameters<typeof api.subscribe>[0]) => {
      for await (const _ of api.subscribe(request)) return undefined;
      return undefined;
    };
    const unknownType = await connectError(
      first({ tenant: "sub-bad", filters: [{ kind: { case: "nodeTypeId", value: 99 } }] }),
    );
    expect(unknownType.code).toBe(Code.InvalidArgument);
    expect(unknownType.rawMessage).toBe(
      "`filters[0].node_type_id` is 99, but the schema has no node type with that id.",
    );
    const empty = await connectError(first({ tenant: "sub-bad", filters: [{}] }));
    expect(empty.rawMessage).toBe(
      "`filters[0]` sets nothing; set node_type_id, node_id, edge_type_id or mailbox.",
    );
    const { position } = (
      await api.executePlan({
        tenant: "sub-bad",
        operations: [teamCreate("y")],
      })
    ).receipt!;
    const partition = position!.partition;
    const ahead = await connectError(
      first({ tenant: "sub-bad", after: { partition, offset: 1_000_000n } }),
    );
    expect(ahead.code).toBe(Code.InvalidArgument);
    expect(ahead.rawMessage).toMatch(
      new RegExp(
        `^\`after\` names offset 1000000 of partition ${partition}, but the log ends at offset \\d+; pass the position of a receipt\\.$`,
      ),
    );
    const otherPartition = await connectError(
      first({ tenant: "sub-bad", after: { partition: partition === 0 ? 1 : 0, offset: 0n } }),
    );
    expect(otherPartition.rawMessage).toBe(
      `\`after\` names partition ${partition === 0 ? 1 : 0}, but tenant 'sub-bad' is logged in partition ${partition}; pass the position of a receipt of this tenant.`,
    );
  });

  it("cuts off a subscriber that does not read with a resumable RESOURCE_EXHAUSTED", async () => {
    const tenant = "sub-slow";
    const api = entDbClient(server, { httpVersion: "2", binary: true });
    const abort = new AbortController();
    const stream = api.subscribe({ tenant }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const got: SubscribeResponse[] = [];
    got.push((await iterator.next()).value as SubscribeResponse);
    // Enough bytes to fill what is in flight between the server's queue and the client,
    // then the queue. What is in flight is bounded by flow control (the HTTP/2 windows and
    // stream buffers of each hop, two with a serving thread, which relays the stream from
    // the main thread), not by the events written, but it varies with timing: from a few
    // dozen of these events to all 400 (6.4 MB) that this test once wrote, which then left
    // the queue nothing to overflow with. 1,200 (19 MB) is three times that.
    const description = str("x".repeat(16_000));
    const ids: string[] = [];
    for (let i = 0; i < 1200; i += 20) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, j) => {
          const op = teamCreate(`slow-${i + j}`);
          const fields = { ...op.op.value.fields, 3: description };
          return api.executePlan({
            tenant,
            operations: [{ op: { case: "createNode", value: { ...op.op.value, fields } } }],
          });
        }),
      );
      ids.push(...results.map((r) => r.results[0]!.id));
    }
    let error: unknown;
    await readUntil(stream, got, () => false, 10_000).catch((err: unknown) => {
      error = err;
    });
    abort.abort();
    expect(error).toBeInstanceOf(ConnectError);
    const cut = error as ConnectError;
    expect(cut.code).toBe(Code.ResourceExhausted);
    const last = got.at(-1)!;
    expect(cut.rawMessage).toBe(
      `The subscription fell more than ${BUFFER} events or 64 MiB behind tenant '${tenant}'; resume with \`after\` = ${positionText(last)} (every event up to it was delivered), and read faster.`,
    );
    expect(createdIds(got).length).toBeLessThan(ids.length);
    // Resuming where it was cut off delivers the rest, each once.
    const resume = new AbortController();
    const rest: SubscribeResponse[] = [];
    await readUntil(
      api.subscribe({ tenant, after: last.position! }, { signal: resume.signal }),
      rest,
      (r) => createdIds(got).length + createdIds(r).length >= ids.length,
    );
    resume.abort();
    expect(new Set([...createdIds(got), ...createdIds(rest)])).toEqual(new Set(ids));
    expect(createdIds(got).length + createdIds(rest).length).toBe(ids.length);
  });
});
