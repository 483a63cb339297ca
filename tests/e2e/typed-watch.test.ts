/**
 * `Watch` on a typed node service against a real `entdb serve` (the tracker example):
 * `acme.tracker.TeamService/Watch` streams the type's changes as `TeamNode` messages,
 * each response with its log position, through connect-node (Connect over HTTP/2 and
 * gRPC) and through `buf curl` by reflection; it resumes after a position without a gap
 * or a duplicate, filters by node id, refuses bad requests with INVALID_ARGUMENT, cuts
 * off a subscriber that does not read, and checks tenant access before and during the
 * stream (a second server, with tokens).
 */

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import {
  TeamService,
  type WatchTeamResponse,
} from "../../examples/tracker/generated/acme/tracker/team_pb.js";
import { connectError, entDbClient, runCommand, serverPerFile, tokenArgs } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";
import { readUntil } from "./subscribe-helpers.ts";

const BUF = `${REPO_ROOT}/node_modules/.bin/buf`;
const BUFFER = 20;
const server = serverPerFile({ env: { ENTDB_SUBSCRIBER_BUFFER: String(BUFFER) } });

/** A TeamService client whose calls name `tenant` in the `entdb-tenant` header. */
function teams(transport: Transport, tenant: string) {
  return {
    client: createClient(TeamService, transport),
    headers: { "entdb-tenant": tenant },
  };
}

/** What a change of a response says, as text: `created a`, `updated a`, `deleted <id>`. */
function changeTexts(responses: readonly WatchTeamResponse[]): string[] {
  return responses.flatMap((r) =>
    r.changes.map((c) => {
      switch (c.kind.case) {
        case "created":
        case "updated":
          return `${c.kind.case} ${c.kind.value.fields?.slug} v${c.kind.value.version}`;
        case "deleted":
          return `deleted ${c.id}`;
        default:
          return "unknown";
      }
    }),
  );
}

const count = (responses: readonly WatchTeamResponse[]) => changeTexts(responses).length;

describe.each<[string, string, () => Transport]>([
  [
    "Connect over HTTP/2",
    "h2",
    () => createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true }),
  ],
  ["gRPC", "grpc", () => createGrpcTransport({ baseUrl: server.url })],
])("TeamService/Watch through connect-node (%s)", (_, name, transport) => {
  it("streams typed changes with positions, then resumes after one with no gap or duplicate", async () => {
    const { client, headers } = teams(transport(), `watch-${name}`);
    const a = await client.create({ fields: { name: "A", slug: "a" } }, { headers });
    const b = await client.create({ fields: { name: "B", slug: "b" } }, { headers });

    const abort = new AbortController();
    const stream = client.watch({ fromStart: true }, { headers, signal: abort.signal });
    const got: WatchTeamResponse[] = [];
    await readUntil(stream, got, (r) => count(r) === 2);
    const updated = await client.update({ id: a.node!.id, patch: { name: "A2" } }, { headers });
    const deleted = await client.delete({ id: b.node!.id }, { headers });
    await readUntil(stream, got, (r) => count(r) === 4);
    abort.abort();

    expect(changeTexts(got)).toEqual([
      "created a v1",
      "created b v1",
      "updated a v2",
      `deleted ${b.node!.id}`,
    ]);
    const withChanges = got.filter((r) => r.changes.length > 0);
    expect(withChanges.map((r) => r.position)).toEqual([
      a.receipt!.position,
      b.receipt!.position,
      updated.receipt!.position,
      deleted.receipt!.position,
    ]);
    expect(new Set(got.map((r) => r.partition))).toEqual(new Set([a.receipt!.partition]));
    const created = withChanges[0]!.changes[0]!;
    expect(created.id).toBe(a.node!.id);
    expect(created.operationIndex).toBe(0);
    expect(created.kind.case === "created" && created.kind.value.fields).toMatchObject({
      name: "A",
      slug: "a",
    });

    const resumed: WatchTeamResponse[] = [];
    const again = new AbortController();
    await readUntil(
      client.watch({ after: b.receipt!.position }, { headers, signal: again.signal }),
      resumed,
      (r) => count(r) === 2,
    );
    again.abort();
    expect(changeTexts(resumed)).toEqual(["updated a v2", `deleted ${b.node!.id}`]);
  }, 30_000);

  it("watches only the listed nodes; another node's event is no change", async () => {
    const { client, headers } = teams(transport(), `watch-ids-${name}`);
    const a = await client.create({ fields: { name: "A", slug: "a" } }, { headers });
    const abort = new AbortController();
    const stream = client.watch({ ids: [a.node!.id] }, { headers, signal: abort.signal });
    const got: WatchTeamResponse[] = [];
    // The first response is the checkpoint of a live stream, at the latest event.
    await readUntil(stream, got, (r) => r.length === 1);
    expect(got[0]).toMatchObject({ position: a.receipt!.position, changes: [] });
    await client.create({ fields: { name: "C", slug: "c" } }, { headers });
    await client.update({ id: a.node!.id, patch: { description: "mine" } }, { headers });
    await readUntil(stream, got, (r) => count(r) === 1);
    abort.abort();
    expect(changeTexts(got)).toEqual(["updated a v2"]);
  }, 30_000);

  it("refuses a bad request with INVALID_ARGUMENT naming what to fix", async () => {
    const { client, headers } = teams(transport(), `watch-bad-${name}`);
    const read = async (stream: AsyncIterable<unknown>) => {
      for await (const _ of stream) return;
    };
    const empty = await connectError(read(client.watch({ ids: ["x", ""] }, { headers })));
    expect([empty.code, empty.rawMessage]).toEqual([
      Code.InvalidArgument,
      "`ids[1]` is empty; name a node id.",
    ]);
    const noTenant = await connectError(read(client.watch({})));
    expect([noTenant.code, noTenant.rawMessage]).toEqual([
      Code.InvalidArgument,
      "Typed services take the tenant from the 'entdb-tenant' header; set it.",
    ]);
    const negative = await connectError(read(client.watch({ after: -1n }, { headers })));
    expect([negative.code, negative.rawMessage]).toEqual([
      Code.InvalidArgument,
      "`after` is -1; pass the `position` of a response you received, or leave it unset.",
    ]);
  }, 30_000);
});

describe("buf curl on the typed Watch", () => {
  it("streams TeamService changes by reflection, with typed fields and positions", async () => {
    const tenant = "watch-buf";
    const { client, headers } = teams(
      createConnectTransport({ baseUrl: server.url, httpVersion: "2" }),
      tenant,
    );
    const a = await client.create({ fields: { name: "Printers", slug: "printers" } }, { headers });
    // The stream stays open for live changes; the deadline ends it after the history.
    const res = await runCommand(
      BUF,
      [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--timeout",
        "3s",
        "-H",
        `entdb-tenant: ${tenant}`,
        "-d",
        JSON.stringify({ fromStart: true }),
        `${server.url}/acme.tracker.TeamService/Watch`,
      ],
      { cwd: server.dataDir, timeout: 30_000 },
    );
    const responses = res.stdout
      .trim()
      .split(/\n(?=\{)/)
      .map((doc) => JSON.parse(doc) as unknown);
    expect(responses).toEqual([
      {
        position: a.receipt!.position.toString(),
        ...(a.receipt!.partition === 0 ? {} : { partition: a.receipt!.partition }),
        changes: [
          {
            id: a.node!.id,
            created: {
              id: a.node!.id,
              fields: { name: "Printers", slug: "printers" },
              version: "1",
              createdAt: expect.any(String),
              updatedAt: expect.any(String),
            },
          },
        ],
      },
      {
        position: a.receipt!.position.toString(),
        ...(a.receipt!.partition === 0 ? {} : { partition: a.receipt!.partition }),
      },
    ]);
    expect(res.stderr).toMatch(/deadline_exceeded/);
  }, 30_000);
});

describe("back-pressure on the typed Watch", () => {
  it("cuts off a watcher that does not read with a resumable RESOURCE_EXHAUSTED", async () => {
    const tenant = "watch-slow";
    const { client, headers } = teams(
      createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true }),
      tenant,
    );
    const abort = new AbortController();
    const stream = client.watch({}, { headers, signal: abort.signal });
    const got: WatchTeamResponse[] = [];
    await readUntil(stream, got, (r) => r.length === 1);
    // Enough bytes to fill the HTTP/2 window and the socket buffers, then the queue.
    const description = "x".repeat(16_000);
    const ids: string[] = [];
    for (let i = 0; i < 400; i += 20) {
      const made = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          client.create(
            { fields: { name: `slow ${i + j}`, slug: `slow-${i + j}`, description } },
            { headers },
          ),
        ),
      );
      ids.push(...made.map((r) => r.node!.id));
    }
    const error = await readUntil(stream, got, () => false, 10_000).catch((err: unknown) => err);
    abort.abort();
    expect(error).toBeInstanceOf(ConnectError);
    const cut = error as ConnectError;
    const last = got.at(-1)!;
    expect([cut.code, cut.rawMessage]).toEqual([
      Code.ResourceExhausted,
      `The subscription fell more than ${BUFFER} events or 64 MiB behind tenant '${tenant}'; resume with \`after\` = ${last.partition}:${last.position} (every event up to it was delivered), and read faster.`,
    ]);
    expect(count(got)).toBeLessThan(ids.length);
    const rest: WatchTeamResponse[] = [];
    const resume = new AbortController();
    await readUntil(
      client.watch({ after: last.position! }, { headers, signal: resume.signal }),
      rest,
      (r) => count(got) + count(r) >= ids.length,
    );
    resume.abort();
    const created = (r: readonly WatchTeamResponse[]) =>
      r.flatMap((x) => x.changes.filter((c) => c.kind.case === "created").map((c) => c.id));
    expect([...created(got), ...created(rest)].sort()).toEqual([...ids].sort());
  }, 60_000);
});

describe("access on the typed Watch", () => {
  const TOKENS = {
    root: "root-token-0123456789",
    alice: "alice-token-0123456789",
    mallory: "mallory-token-01234567",
  } as const;
  const secured = serverPerFile({ args: tokenArgs(TOKENS, ["root"]) });
  const tenant = "watch-acl";
  const as = (who: keyof typeof TOKENS) => ({
    client: createClient(
      TeamService,
      createConnectTransport({ baseUrl: secured.url, httpVersion: "2", useBinaryFormat: true }),
    ),
    headers: { "entdb-tenant": tenant, authorization: `Bearer ${TOKENS[who]}` },
  });

  it("refuses a caller that is not a member, and ends a removed member's stream", async () => {
    await entDbClient(secured, { token: TOKENS.root }).createTenant({
      tenant,
      owner: "user:alice",
    });
    const mallory = as("mallory");
    const denied = await connectError(
      (async () => {
        for await (const _ of mallory.client.watch(
          { fromStart: true },
          { headers: mallory.headers },
        ))
          return;
      })(),
    );
    expect([denied.code, denied.rawMessage]).toEqual([
      Code.PermissionDenied,
      `'user:mallory' is not a member of tenant '${tenant}'; a tenant admin or owner can add it with AddTenantMember.`,
    ]);

    const alice = entDbClient(secured, { token: TOKENS.alice });
    await alice.addTenantMember({ tenant, principal: "user:mallory", role: "viewer" });
    const abort = new AbortController();
    const stream = mallory.client.watch({}, { headers: mallory.headers, signal: abort.signal });
    const got: WatchTeamResponse[] = [];
    await readUntil(stream, got, (r) => r.length === 1);
    await alice.removeTenantMember({ tenant, principal: "user:mallory" });
    const owner = as("alice");
    await owner.client.create(
      { fields: { name: "Secret", slug: "secret" } },
      { headers: owner.headers },
    );
    const ended = await readUntil(stream, got, () => false, 10_000).catch((err: unknown) => err);
    abort.abort();
    expect(ended).toBeInstanceOf(ConnectError);
    expect((ended as ConnectError).code).toBe(Code.PermissionDenied);
    expect(count(got)).toBe(0);
  }, 30_000);
});
