/**
 * `entdb serve --serve-threads 1` against real clients on many HTTP/2 connections, so the
 * kernel gives some to the main thread and some to the serving thread (each test checks
 * from `/metrics` that the serving thread answered reads in it). What the main thread
 * would answer, every thread answers (docs/architecture.md, "Serving threads"):
 * a write acknowledged on one connection is read on every other; a grant or revoke is
 * in force on the next read; a pushed version is served everywhere once the push is
 * acknowledged; a tenant held while it is rebuilt is refused alike; writes, Subscribe,
 * HTTP/1.1 and `buf curl` over gRPC (reflection included) go through a serving thread;
 * SIGTERM lets the calls in flight finish and exits 0. Plans taken on a serving thread (run
 * by the main thread, handed over without HTTP/2) answer as the main thread's do: counted
 * once, read on every connection right after the ack, idempotency keys, errors with their
 * details, deadlines, a push between writes, and SIGTERM or a dying thread with writes in
 * flight (each acknowledged and kept, or failed).
 */

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Direction,
  type ExecutePlanRequestSchema,
  FilterOp,
  WriteFailureSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { HANDED_INGRESS_MIN_OPERATIONS } from "../../server/api/execute-plan.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  runCommand,
  str,
  TRACKER,
  teamPlan,
  tokenArgs,
} from "./e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import { readUntil } from "./subscribe-helpers.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789ab",
} as const;
type Who = keyof typeof TOKENS;
const TENANT = "threads";
/** Connections per protocol: enough that both threads get some (2^-11 that one gets all). */
const CONNECTIONS = 6;
const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");

let server: ServerProcess;
const pools = new Map<Who, EntDbClient[]>();

/** One client per connection: Connect binary over HTTP/2 (the fast path) and gRPC. */
function pool(who: Who): EntDbClient[] {
  let clients = pools.get(who);
  if (clients === undefined) {
    clients = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const token = TOKENS[who];
      clients.push(
        entDbClient(server, { protocol: "connect", httpVersion: "2", binary: true, token }),
      );
      clients.push(entDbClient(server, { protocol: "grpc", token }));
    }
    pools.set(who, clients);
  }
  return clients;
}

/** Calls each thread answered itself so far, from `/metrics` (thread 0: the main thread). */
async function threadCalls(of: ServerProcess = server): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${of.httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^entdb_thread_requests_total\{thread="(\d+)"\} (\d+)$/gm))
    out.set(m[1] ?? "", Number(m[2]));
  return out;
}

/**
 * A server with one serving thread and the test hook that fails it: the thread throws once
 * `stopFile` exists (or fails while starting if the file is there then).
 */
async function startWithStopHook() {
  const dataDir = tempDataDir();
  const stopFile = join(dataDir, "stop-serving-thread");
  const other = await startServerProcess({
    dataDir,
    args: ["--serve-threads", "1"],
    env: { ENTDB_TEST_STOP_SERVING_THREAD: stopFile },
  });
  return { dataDir, stopFile, other };
}

/** Runs `body` and expects the serving thread to have answered calls meanwhile. */
async function onBothThreads(body: () => Promise<void>, of: ServerProcess = server) {
  const before = (await threadCalls(of)).get("1") ?? 0;
  await body();
  const after = await threadCalls(of);
  expect(after.get("1") ?? 0, "the serving thread answered reads").toBeGreaterThan(before);
  expect(after.get("0") ?? 0, "the main thread answered calls").toBeGreaterThan(0);
}

function timestamp() {
  return {
    kind: { case: "timestampValue" as const, value: { seconds: 1_700_000_000n, nanos: 0 } },
  };
}

/** While this file exists, plans a serving thread prepared wait on the main thread before they are logged. */
const HOLD_PLANS = join(tmpdir(), `entdb-hold-plans-${process.pid}`);

beforeAll(async () => {
  server = await startServerProcess({
    args: [...tokenArgs(TOKENS, ["root"]), "--serve-threads", "1"],
    env: { ENTDB_TEST_HOLD_PREPARED_PLANS: HOLD_PLANS },
  });
  await entDbClient(server, { token: TOKENS.root }).createTenant({
    tenant: TENANT,
    owner: "user:alice",
  });
}, 60_000);

afterAll(async () => {
  for (const clients of pools.values()) clients.length = 0;
  if (!server) return;
  const code = await server.stop();
  removeDataDir(server.dataDir);
  expect(code).toBe(0);
});

describe("serve threads", () => {
  it("spreads connections over both threads and counts every thread's calls in /metrics", async () => {
    const clients = pool("alice");
    const created = await clients[0]!.executePlan(teamPlan(TENANT, "spread"));
    const id = created.results[0]!.id;
    await onBothThreads(async () => {
      for (let round = 0; round < 3; round++)
        for (const c of clients) {
          const got = await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id });
          expect(got.node?.id).toBe(id);
        }
    });
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const gets =
      /^entdb_requests_total\{method="entdb.v1.EntDbService\/GetNode",code="ok"\} (\d+)$/m.exec(
        text,
      );
    // Every read above, whichever thread answered it.
    expect(Number(gets?.[1])).toBeGreaterThanOrEqual(3 * clients.length);
  }, 60_000);

  it("reads a write acknowledged on one connection on every other, caches included", async () => {
    const clients = pool("alice");
    const user = await clients[1]!.executePlan({
      tenant: TENANT,
      operations: [
        {
          op: {
            case: "createNode",
            value: {
              typeId: TRACKER.user,
              fields: {
                [TRACKER.userEmail]: str("ada@example.com"),
                [TRACKER.userDisplayName]: str("Ada"),
                [TRACKER.userHandle]: str("ada"),
                [TRACKER.userJoinedAt]: timestamp(),
              },
            },
          },
        },
      ],
    });
    const userId = user.results[0]!.id;
    await onBothThreads(async () => {
      for (let round = 0; round < clients.length; round++) {
        const writer = clients[round]!;
        const slug = `ryw-${round}`;
        const team = (await writer.executePlan(teamPlan(TENANT, slug))).results[0]!.id;
        // Warm every thread's caches with the first version, then change it.
        for (const c of clients)
          expect(
            (await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id: team })).node?.id,
          ).toBe(team);
        const updated = await writer.executePlan({
          tenant: TENANT,
          operations: [
            {
              op: {
                case: "updateNode",
                value: {
                  typeId: TRACKER.team,
                  id: team,
                  set: { [TRACKER.teamName]: str(`${slug}-renamed`) },
                },
              },
            },
            {
              op: {
                case: "createEdge",
                value: {
                  edgeTypeId: TRACKER.memberOf,
                  fromId: userId,
                  toId: team,
                  props: { [TRACKER.memberOfSince]: timestamp() },
                },
              },
            },
          ],
        });
        const afterPosition = updated.receipt?.position;
        expect(afterPosition).toBeDefined();
        for (const c of clients) {
          const one = await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id: team });
          // With the receipt's position as a read-your-writes token: applied, so answered at once.
          const after = await c.getNode({
            tenant: TENANT,
            typeId: TRACKER.team,
            id: team,
            afterPosition,
          });
          expect(after.node?.version).toBe(one.node?.version);
          expect(one.node?.fields[TRACKER.teamName]?.kind).toEqual({
            case: "stringValue",
            value: `${slug}-renamed`,
          });
          const many = await c.getNodes({ tenant: TENANT, typeId: TRACKER.team, ids: [team] });
          expect(many.nodes.map((n) => n.fields[TRACKER.teamName]?.kind.value)).toEqual([
            `${slug}-renamed`,
          ]);
          const page = await c.queryNodes({
            tenant: TENANT,
            typeId: TRACKER.team,
            filters: [{ fieldId: TRACKER.teamSlug, op: FilterOp.EQ, values: [str(slug)] }],
          });
          expect(page.nodes.map((n) => n.id)).toEqual([team]);
          const edges = await c.listEdges({
            tenant: TENANT,
            edgeTypeId: TRACKER.memberOf,
            nodeId: userId,
            direction: Direction.OUT,
            limit: 1000,
          });
          expect(edges.edges.map((e) => e.toId)).toContain(team);
          expect(edges.edges).toHaveLength(round + 1);
        }
      }
    });
  }, 120_000);

  it("serves a read after an applied position on the serving thread itself", async () => {
    const clients = pool("alice");
    const made = await clients[0]!.executePlan(teamPlan(TENANT, "token"));
    const afterPosition = made.receipt!.position!;
    const id = made.results[0]!.id;
    // Only such reads in here: the serving thread's count moves only if it answered them.
    await onBothThreads(async () => {
      for (let round = 0; round < 3; round++)
        for (const c of clients) {
          const got = await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id, afterPosition });
          expect(got.node?.id).toBe(id);
        }
    });
  }, 60_000);

  it("answers a read after a position that is not logged as the main thread does, on every thread", async () => {
    const clients = pool("alice");
    const made = await clients[0]!.executePlan(teamPlan(TENANT, "far"));
    const at = made.receipt!.position!;
    const future = { partition: at.partition, offset: at.offset + 1_000_000n };
    const messages = new Set<string>();
    for (const c of clients) {
      const e = await connectError(
        c.getNode({
          tenant: TENANT,
          typeId: TRACKER.team,
          id: made.results[0]!.id,
          afterPosition: future,
        }),
      );
      expect(e.code).toBe(Code.InvalidArgument);
      messages.add(e.rawMessage);
    }
    expect([...messages]).toEqual([
      `\`after_position\` names offset ${future.offset} of partition ${future.partition}, but the log ends at offset ${at.offset + 1n}; pass the position of a receipt.`,
    ]);
  }, 60_000);

  it("puts a grant and a revoke in force on the next read on every thread", async () => {
    const alice = pool("alice")[0]!;
    const team = (await alice.executePlan(teamPlan(TENANT, "acl"))).results[0]!.id;
    const bob = pool("bob");
    const denied = `'user:bob' is not a member of tenant '${TENANT}'; a tenant admin or owner can add it with AddTenantMember.`;
    await onBothThreads(async () => {
      for (let round = 0; round < 3; round++) {
        for (const c of bob) {
          const e = await connectError(
            c.getNode({ tenant: TENANT, typeId: TRACKER.team, id: team }),
          );
          expect(e.code).toBe(Code.PermissionDenied);
          expect(e.rawMessage).toBe(denied);
        }
        await alice.addTenantMember({ tenant: TENANT, principal: "user:bob", role: "viewer" });
        for (const c of bob) {
          const got = await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id: team });
          expect(got.node?.id).toBe(team);
        }
        await alice.removeTenantMember({ tenant: TENANT, principal: "user:bob" });
      }
    });
  }, 120_000);

  it("serves a pushed version on every thread once the push is acknowledged", async () => {
    const clients = pool("alice");
    const LABEL = 20;
    // The served version has no type 20: every thread refuses the read as bad input.
    for (const c of clients) {
      const e = await connectError(c.getNode({ tenant: TENANT, typeId: LABEL, id: "x" }));
      expect(e.code).toBe(Code.InvalidArgument);
    }
    const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
    const v2 = `${tracker}\nnode Label = 20 {\n  name: string = 1 [required, unique];\n}\n`;
    await onBothThreads(async () => {
      await entDbClient(server, { token: TOKENS.root }).pushSchema({ source: v2 });
      for (const c of clients) {
        const e = await connectError(c.getNode({ tenant: TENANT, typeId: LABEL, id: "x" }));
        expect(e.code).toBe(Code.NotFound);
        expect(e.rawMessage).toBe("Label 'x' does not exist.");
      }
      // Then the serving thread answers them itself again.
      for (let round = 0; round < 3; round++)
        for (const c of clients)
          expect(
            await connectError(c.getNode({ tenant: TENANT, typeId: LABEL, id: "x" })),
          ).toMatchObject({
            code: Code.NotFound,
          });
    });
  }, 60_000);

  it("takes writes, Subscribe, HTTP/1.1 and buf curl over gRPC through a serving thread", async () => {
    const clients = pool("alice");
    await onBothThreads(async () => {
      // A subscription on every connection sees a write made after it started.
      const aborts = clients.map(() => new AbortController());
      const streams = clients.map((c, i) =>
        c.subscribe({ tenant: TENANT }, { signal: aborts[i]!.signal }),
      );
      const firsts = streams.map(() => [] as { changes: { nodeId: string }[] }[]);
      // Each stream is open once it answered its first message (a checkpoint or a change).
      const written = (await clients[0]!.executePlan(teamPlan(TENANT, "sub"))).results[0]!.id;
      await Promise.all(
        streams.map((s, i) =>
          readUntil(s, firsts[i]!, (got) =>
            got.some((r) => r.changes.some((ch) => ch.nodeId === written)),
          ),
        ),
      );
      for (const a of aborts) a.abort();
      // HTTP/1.1 (Connect JSON): several calls at once open several connections.
      const h1 = entDbClient(server, { token: TOKENS.alice });
      const made = await Promise.all(
        Array.from({ length: 8 }, (_, i) => h1.executePlan(teamPlan(TENANT, `h1-${i}`))),
      );
      const read = await Promise.all(
        made.map((m) => h1.getNode({ tenant: TENANT, typeId: TRACKER.team, id: m.results[0]!.id })),
      );
      expect(read.map((r) => r.node?.fields[TRACKER.teamSlug]?.kind.value)).toEqual(
        made.map((_, i) => `h1-${i}`),
      );
      // buf curl: reflection (a bidirectional stream) then the call, a new connection each run.
      for (let i = 0; i < 6; i++) {
        const res = await runCommand(
          BUF,
          [
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "-H",
            `authorization: Bearer ${TOKENS.alice}`,
            "--reflect-header",
            `authorization: Bearer ${TOKENS.alice}`,
            "-d",
            JSON.stringify({ tenant: TENANT, typeId: TRACKER.team, id: made[i]!.results[0]!.id }),
            `${server.url}/entdb.v1.EntDbService/GetNode`,
          ],
          { cwd: server.dataDir, timeout: 30_000 },
        );
        expect(res.stderr).toBe("");
        expect(JSON.parse(res.stdout).node.id).toBe(made[i]!.results[0]!.id);
      }
      // And reads on every connection, so this test sees the serving thread answer.
      for (const c of clients)
        await c.getNode({ tenant: TENANT, typeId: TRACKER.team, id: written });
    });
  }, 120_000);
});

/** The count of `entdb_requests_total` for ExecutePlan answered with `code`, every thread's. */
async function planCalls(code: string): Promise<number> {
  await threadCalls(); // pulls the threads' counts
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const m = new RegExp(
    `^entdb_requests_total\\{method="entdb.v1.EntDbService/ExecutePlan",code="${code}"\\} (\\d+)$`,
    "m",
  ).exec(text);
  return Number(m?.[1] ?? 0);
}

/**
 * Creates of Team `slug`, `slug-1`, …: enough steps for the serving thread to run the plan's
 * ingress itself (a smaller plan is run whole by the main thread).
 */
function teamsPlan(slug: string) {
  const operations = [];
  for (let i = 0; i < HANDED_INGRESS_MIN_OPERATIONS; i++)
    operations.push(...teamPlan(TENANT, i === 0 ? slug : `${slug}-${i}`).operations);
  return { tenant: TENANT, operations };
}

/** Plans the serving thread handed to the main thread so far, by where their ingress ran. */
async function handedPlans(): Promise<{ thread: number; main: number; again: number }> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const count = (ingress: string) =>
    Number(
      new RegExp(`^entdb_handed_plans_total\\{ingress="${ingress}"\\} (\\d+)$`, "m").exec(
        text,
      )?.[1] ?? 0,
    );
  return { thread: count("thread"), main: count("main"), again: count("again") };
}

/** Runs `body` (writes only) and expects the serving thread to have answered some of them. */
async function writesOnTheThread(body: () => Promise<void>): Promise<void> {
  const before = (await threadCalls()).get("1") ?? 0;
  await body();
  expect((await threadCalls()).get("1") ?? 0, "the serving thread took writes").toBeGreaterThan(
    before,
  );
}

/** `error` as the fields a client sees, to compare answers of different threads. */
function seen(error: ConnectError) {
  return {
    code: error.code,
    message: error.rawMessage,
    failures: error.findDetails(WriteFailureSchema),
  };
}

describe("writes on a serving thread", () => {
  it("takes plans over Connect and gRPC on every connection, counts each once and reads it on another connection right after the ack", async () => {
    const clients = pool("alice");
    const okBefore = await planCalls("ok");
    const handedBefore = await handedPlans();
    const threadBefore = (await threadCalls()).get("1") ?? 0;
    let written = 0;
    await writesOnTheThread(async () => {
      for (let round = 0; round < 3; round++) {
        // All at once, so several calls are in flight on each thread.
        // Large enough for the serving thread to run their ingress (round 0: one step, run
        // whole by the main thread).
        const made = await Promise.all(
          clients.map((c, i) =>
            c.executePlan(
              round === 0 ? teamPlan(TENANT, `rw-${round}-${i}`) : teamsPlan(`rw-${round}-${i}`),
            ),
          ),
        );
        written += made.length;
        for (const m of made) expect(m.receipt?.applied).toBe(true);
        // Right after each ack, on the next connection (on either thread).
        const read = await Promise.all(
          made.map((m, i) =>
            clients[(i + 1) % clients.length]!.getNode({
              tenant: TENANT,
              typeId: TRACKER.team,
              id: m.results[0]!.id,
            }),
          ),
        );
        expect(read.map((r) => r.node?.fields[TRACKER.teamSlug]?.kind.value)).toEqual(
          made.map((_, i) => `rw-${round}-${i}`),
        );
      }
    });
    // The thread counts the calls it took; the main thread, which ran them, does not.
    expect((await planCalls("ok")) - okBefore).toBe(written);
    // The plans of many steps the thread took had their ingress there; those of one step
    // were run whole by the main thread.
    const handed = await handedPlans();
    const threadReads = ((await threadCalls()).get("1") ?? 0) - threadBefore;
    expect(handed.thread - handedBefore.thread).toBeGreaterThan(0);
    expect(handed.thread - handedBefore.thread).toBeLessThan(threadReads);
    expect(handed.main - handedBefore.main).toBeGreaterThan(0);
    expect(handed.main - handedBefore.main).toBeLessThan(threadReads);
    expect(handed.again - handedBefore.again).toBe(0);
    // buf curl over gRPC, a new connection each run.
    for (let i = 0; i < 4; i++) {
      const res = await runCommand(
        BUF,
        [
          "curl",
          "--protocol",
          "grpc",
          "--http2-prior-knowledge",
          "-H",
          `authorization: Bearer ${TOKENS.alice}`,
          "--reflect-header",
          `authorization: Bearer ${TOKENS.alice}`,
          "-d",
          JSON.stringify({
            tenant: TENANT,
            operations: [
              {
                createNode: {
                  typeId: TRACKER.team,
                  fields: {
                    [TRACKER.teamName]: { stringValue: `curl-${i}` },
                    [TRACKER.teamSlug]: { stringValue: `curl-${i}` },
                  },
                },
              },
            ],
          }),
          `${server.url}/entdb.v1.EntDbService/ExecutePlan`,
        ],
        { cwd: server.dataDir, timeout: 30_000 },
      );
      expect(res.stderr).toBe("");
      const answer = JSON.parse(res.stdout) as {
        receipt: { applied: boolean };
        results: { id: string }[];
      };
      expect(answer.receipt.applied).toBe(true);
      const got = await clients[i]!.getNode({
        tenant: TENANT,
        typeId: TRACKER.team,
        id: answer.results[0]!.id,
      });
      expect(got.node?.fields[TRACKER.teamSlug]?.kind.value).toBe(`curl-${i}`);
    }
  }, 60_000);

  it("keeps the ids of a plan retried with its idempotency key on every connection", async () => {
    const clients = pool("alice");
    const plan = { ...teamsPlan("idem"), idempotencyKey: "threads-idem-1" };
    const first = await clients[0]!.executePlan(plan);
    expect(first.receipt?.replayed).toBe(false);
    const handedBefore = await handedPlans();
    await writesOnTheThread(async () => {
      for (const c of clients) {
        const again = await c.executePlan(plan);
        expect(again.receipt?.replayed).toBe(true);
        expect(again.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
        expect(again.receipt?.position).toEqual(first.receipt?.position);
      }
    });
    // The retries the thread took were prepared there (new ids minted, then not logged).
    expect((await handedPlans()).thread - handedBefore.thread).toBeGreaterThan(0);
    // The same key with another plan is refused alike everywhere.
    const other = { ...teamsPlan("idem-other"), idempotencyKey: "threads-idem-1" };
    const refusals = await Promise.all(clients.map((c) => connectError(c.executePlan(other))));
    expect(new Set(refusals.map((e) => JSON.stringify(seen(e)))).size).toBe(1);
    expect(refusals[0]!.code).toBe(Code.FailedPrecondition);
  }, 60_000);

  it("answers a bad plan, a taken unique value and a bad token with the same code, message and details on every thread", async () => {
    const clients = pool("alice");
    await clients[0]!.executePlan(teamsPlan("taken"));
    const errorsBefore = await planCalls("invalid_argument");
    const handedBefore = await handedPlans();
    const team = (fields: Record<number, ReturnType<typeof str>>, alias = "") => ({
      tenant: TENANT,
      operations: [
        { op: { case: "createNode" as const, value: { typeId: TRACKER.team, fields, alias } } },
      ],
    });
    // Each refused by ingress: an unknown type, an unknown field, a required field left
    // out, a bad alias, no operations, a key too long, a bad tenant id.
    // Each after enough good steps for the serving thread to run its ingress, which refuses it.
    const afterGood = (plan: {
      operations: NonNullable<MessageInitShape<typeof ExecutePlanRequestSchema>["operations"]>;
    }) => ({
      tenant: TENANT,
      operations: [...teamsPlan("fine").operations, ...plan.operations],
    });
    const badPlans = [
      afterGood({
        operations: [{ op: { case: "createNode" as const, value: { typeId: 999, fields: {} } } }],
      }),
      afterGood(team({ [TRACKER.teamName]: str("n"), [TRACKER.teamSlug]: str("s"), 77: str("x") })),
      afterGood(team({ [TRACKER.teamName]: str("n") })),
      afterGood(team({ [TRACKER.teamName]: str("n"), [TRACKER.teamSlug]: str("s") }, "9bad")),
      { tenant: TENANT, operations: [] },
      { ...teamsPlan("long-key"), idempotencyKey: "k".repeat(300) },
      { ...teamsPlan("bad-tenant"), tenant: "../nope" },
    ];
    const messages: string[] = [];
    await writesOnTheThread(async () => {
      for (const plan of badPlans) {
        const answers = await Promise.all(clients.map((c) => connectError(c.executePlan(plan))));
        for (const e of answers) expect(seen(e)).toEqual(seen(answers[0]!));
        expect(answers[0]!.code).toBe(Code.InvalidArgument);
        messages.push(answers[0]!.rawMessage);
      }
    });
    expect(messages).toEqual([
      `Operation ${HANDED_INGRESS_MIN_OPERATIONS} names node type id 999, which the schema does not define.`,
      "Team has no field with id 77.",
      "Field Team.slug (id 2) is required; set it.",
      `Operation ${HANDED_INGRESS_MIN_OPERATIONS} has alias '9bad'; aliases are 1-64 letters, digits or '_' and do not start with a digit.`,
      "The plan has no operations; add at least one.",
      "The idempotency key is 300 characters; the limit is 256.",
      expect.stringContaining("../nope"),
    ]);
    // The thread's ingress refused them: the main thread ran each whole and answered it.
    const refusedHanded = await handedPlans();
    expect(refusedHanded.main - handedBefore.main).toBeGreaterThan(0);
    expect(refusedHanded.thread - handedBefore.thread).toBe(0);
    expect((await planCalls("invalid_argument")) - errorsBefore).toBe(
      clients.length * badPlans.length,
    );
    await writesOnTheThread(async () => {
      const taken = await Promise.all(
        clients.map((c) => connectError(c.executePlan(teamsPlan("taken")))),
      );
      for (const e of taken) expect(seen(e)).toEqual(seen(taken[0]!));
      expect(taken[0]!.code).toBe(Code.AlreadyExists);
      expect(taken[0]!.findDetails(WriteFailureSchema)[0]?.reason).toBe("UNIQUE_VIOLATION");
    });
    // The clashes the thread took were prepared there; the applier refused them.
    expect((await handedPlans()).thread - refusedHanded.thread).toBeGreaterThan(0);
    // A token the server does not know: refused before any plan is looked at.
    const strangers = [
      ...Array.from({ length: CONNECTIONS }, () =>
        entDbClient(server, {
          protocol: "connect",
          httpVersion: "2",
          binary: true,
          token: "nobody-0123456789",
        }),
      ),
    ];
    const refused = await Promise.all(
      strangers.map((c) => connectError(c.executePlan(teamPlan(TENANT, "stranger")))),
    );
    for (const e of refused) expect(seen(e)).toEqual(seen(refused[0]!));
    expect(refused[0]!.code).toBe(Code.Unauthenticated);
  }, 60_000);

  it("takes a plan with a deadline on every connection; a call past its deadline fails and the connection keeps taking writes", async () => {
    const clients = pool("alice");
    // A Connect call with a deadline goes to the main thread whole (no fast path takes
    // `connect-timeout-ms`); gRPC carries its deadline on the fast path. Sixteen more gRPC
    // connections, so that one of them is on the serving thread whatever the kernel picks
    // for the pool's six (all six on the main thread: one run in 64).
    const grpc = Array.from({ length: 16 }, () =>
      entDbClient(server, { protocol: "grpc", token: TOKENS.alice }),
    );
    await writesOnTheThread(async () => {
      const made = await Promise.all(
        [...clients, ...grpc].map((c, i) =>
          c.executePlan(teamPlan(TENANT, `deadline-${i}`), { timeoutMs: 20_000 }),
        ),
      );
      for (const m of made) expect(m.receipt?.applied).toBe(true);
    });
    const late = await Promise.all(
      clients.map((c, i) =>
        connectError(c.executePlan(teamPlan(TENANT, `late-${i}`), { timeoutMs: 1 })),
      ),
    );
    for (const e of late) expect(e.code).toBe(Code.DeadlineExceeded);
    // Every connection still takes writes.
    const after = await Promise.all(
      clients.map((c, i) => c.executePlan(teamPlan(TENANT, `after-deadline-${i}`))),
    );
    expect(after.every((m) => m.receipt?.applied === true)).toBe(true);
  }, 60_000);

  it("takes writes of a type pushed between two writes on every connection", async () => {
    const clients = pool("alice");
    const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
    const LABEL = 20;
    const TAG = 21;
    const tagPlan = (name: string) => ({
      tenant: TENANT,
      operations: [
        { op: { case: "createNode" as const, value: { typeId: TAG, fields: { 1: str(name) } } } },
      ],
    });
    // Before the push, type 21 is bad input on every thread.
    for (const c of clients) {
      const e = await connectError(c.executePlan(tagPlan("early")));
      expect(e.code).toBe(Code.InvalidArgument);
    }
    const v3 = `${tracker}\nnode Label = ${LABEL} {\n  name: string = 1 [required, unique];\n}\nnode Tag = ${TAG} {\n  name: string = 1 [required];\n}\n`;
    await entDbClient(server, { token: TOKENS.root }).pushSchema({ source: v3 });
    await writesOnTheThread(async () => {
      for (let round = 0; round < 2; round++) {
        const made = await Promise.all(
          clients.map((c, i) => c.executePlan(tagPlan(`t-${round}-${i}`))),
        );
        for (const m of made)
          expect(m.receipt?.schemaVersion).toBe(made[0]!.receipt?.schemaVersion);
        const got = await Promise.all(
          made.map((m, i) =>
            clients[(i + 1) % clients.length]!.getNode({
              tenant: TENANT,
              typeId: TAG,
              id: m.results[0]!.id,
            }),
          ),
        );
        expect(got.map((g) => g.node?.fields[1]?.kind.value)).toEqual(
          made.map((_, i) => `t-${round}-${i}`),
        );
      }
    });
  }, 60_000);
  it("checks a plan the thread prepared again on the main thread when a version is pushed before it is logged", async () => {
    const clients = pool("alice");
    const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
    // The version the test before pushed, and Team.motto with a default on top: a plan
    // checked against the version before has no motto; against this one, it has "none".
    const v3 = `${tracker}\nnode Label = 20 {\n  name: string = 1 [required, unique];\n}\nnode Tag = 21 {\n  name: string = 1 [required];\n}\n`;
    const team = "  description: string = 3 [searchable];\n}";
    expect(v3.split(team)).toHaveLength(2);
    const v4 = v3.replace(
      team,
      '  description: string = 3 [searchable];\n  motto: string = 4 [default = "none"];\n}',
    );
    const before = await handedPlans();
    writeFileSync(HOLD_PLANS, "");
    let settled = 0;
    const made = clients.map((c, i) =>
      c.executePlan(teamsPlan(`held-${i}`)).finally(() => {
        settled++;
      }),
    );
    try {
      // Those on the main thread's connections are logged; the serving thread's wait,
      // prepared against the version served now.
      for (let i = 0; i < 200; i++) {
        const held = (await handedPlans()).thread - before.thread;
        if (held > 0 && held + settled === clients.length) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const held = (await handedPlans()).thread - before.thread;
      expect(held, "plans held after the serving thread prepared them").toBeGreaterThan(0);
      expect(held + settled).toBe(clients.length);
      const pushed = await entDbClient(server, { token: TOKENS.root }).pushSchema({ source: v4 });
      rmSync(HOLD_PLANS, { force: true });
      const answers = await Promise.all(made);
      const after = await handedPlans();
      expect(after.again - before.again).toBe(held);
      const newer = answers.filter((a) => a.receipt?.schemaVersion === pushed.version);
      expect(newer).toHaveLength(held);
      // Read on every connection: a plan logged after the push has the default of the
      // version served at its append; one logged before has none.
      const read = await Promise.all(
        answers.map((a, i) =>
          clients[(i + 1) % clients.length]!.getNode({
            tenant: TENANT,
            typeId: TRACKER.team,
            id: a.results[0]!.id,
          }),
        ),
      );
      expect(read.map((r) => r.node?.fields[4]?.kind.value)).toEqual(
        answers.map((a) => (a.receipt?.schemaVersion === pushed.version ? "none" : undefined)),
      );
    } finally {
      rmSync(HOLD_PLANS, { force: true });
      await Promise.allSettled(made);
    }
  }, 60_000);
});

describe("serve threads around the main thread's state", () => {
  it("refuses a tenant being rebuilt on every thread, as the main thread does, then serves it", async () => {
    const dataDir = tempDataDir();
    try {
      const first = await startServerProcess({ dataDir });
      const api = entDbClient(first);
      const id = (await api.executePlan(teamPlan("held", "held"))).results[0]!.id;
      expect(await first.stop()).toBe(0);
      rmSync(join(dataDir, "tenants", tenantFileName("held")));
      const hold = join(dataDir, "hold");
      writeFileSync(hold, "");
      const held = await startServerProcess({
        dataDir,
        args: ["--serve-threads", "1"],
        env: { ENTDB_TEST_HOLD_REBUILD: hold },
        readyPath: "/health",
      });
      try {
        const clients = Array.from({ length: 2 * CONNECTIONS }, (_, i) =>
          entDbClient(
            held,
            i % 2 === 0
              ? { protocol: "connect", httpVersion: "2", binary: true }
              : { protocol: "grpc" },
          ),
        );
        for (const c of clients) {
          const e = await connectError(c.getNode({ tenant: "held", typeId: TRACKER.team, id }));
          expect(e.code).toBe(Code.Unavailable);
          expect(e.rawMessage).toMatch(
            /^Tenant "held" is being rebuilt from the log \(its database is missing\)/,
          );
        }
        rmSync(hold);
        await onBothThreads(async () => {
          for (const c of clients) {
            let got: string | undefined;
            for (let tries = 0; got === undefined && tries < 100; tries++) {
              try {
                got = (await c.getNode({ tenant: "held", typeId: TRACKER.team, id })).node?.id;
              } catch (e) {
                expect((e as { code?: unknown }).code).toBe(Code.Unavailable);
                await new Promise((r) => setTimeout(r, 100));
              }
            }
            expect(got).toBe(id);
          }
          // Served by the serving thread too, once nothing is held (it learns that the
          // rebuild ended within 200 ms of the main thread): rounds until it has answered.
          const before = (await threadCalls(held)).get("1") ?? 0;
          for (let round = 0; round < 50; round++) {
            for (const c of clients)
              expect((await c.getNode({ tenant: "held", typeId: TRACKER.team, id })).node?.id).toBe(
                id,
              );
            if (round >= 2 && ((await threadCalls(held)).get("1") ?? 0) > before) break;
            await new Promise((r) => setTimeout(r, 50));
          }
        }, held);
      } finally {
        expect(await held.stop()).toBe(0);
      }
    } finally {
      removeDataDir(dataDir);
    }
  }, 120_000);

  it("logs a serving thread that dies with writes in flight and starts it again, and the server keeps serving", async () => {
    const { dataDir, stopFile, other } = await startWithStopHook();
    const connections = () =>
      Array.from({ length: 2 * CONNECTIONS }, (_, i) =>
        entDbClient(
          other,
          i % 2 === 0
            ? { protocol: "connect", httpVersion: "2", binary: true }
            : { protocol: "grpc" },
        ),
      );
    try {
      const id = (await entDbClient(other).executePlan(teamPlan("crash", "crash"))).results[0]!.id;
      await onBothThreads(async () => {
        for (const c of connections())
          await c.getNode({ tenant: "crash", typeId: TRACKER.team, id });
      }, other);
      // Writes in flight on every connection while the thread dies.
      let writing = true;
      const acked: { slug: string; id: string }[] = [];
      const failed: ConnectError[] = [];
      const writers = connections().map(async (c, i) => {
        for (let j = 0; writing; j++) {
          const slug = `crash-${i}-${j}`;
          try {
            acked.push({ slug, id: (await c.executePlan(teamPlan("crash", slug))).results[0]!.id });
          } catch (e) {
            failed.push(ConnectError.from(e));
          }
        }
      });
      writeFileSync(stopFile, "");
      const deadline = Date.now() + 20_000;
      while (
        !other.logs().includes('"msg":"serving thread started again"') &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 100));
      writing = false;
      await Promise.all(writers);
      // Each write was acknowledged, and then it is there, or it failed (its connection was
      // the dead thread's).
      expect(acked.length).toBeGreaterThan(0);
      const reader = entDbClient(other);
      for (const a of acked)
        expect(
          (await reader.getNode({ tenant: "crash", typeId: TRACKER.team, id: a.id })).node?.fields[
            TRACKER.teamSlug
          ]?.kind.value,
        ).toBe(a.slug);
      const lines = other.logs().split("\n");
      const stopped = lines.find((l) =>
        l.includes('"msg":"serving thread stopped; starting it again"'),
      );
      expect(stopped, other.logs()).toBeDefined();
      expect(JSON.parse(stopped!)).toMatchObject({ level: "error", thread: 1, code: 1 });
      // The thread's error is logged with it; the process itself never stopped.
      const failedLine = lines.find((l) => l.includes('"msg":"serving thread failed"'));
      expect(failedLine, other.logs()).toContain("the serving thread failed on purpose");
      expect(lines.some((l) => l.includes('"msg":"serving thread started again"'))).toBe(true);
      // New connections are served by both threads again, and the write path still works.
      await onBothThreads(async () => {
        for (const c of connections())
          expect((await c.getNode({ tenant: "crash", typeId: TRACKER.team, id })).node?.id).toBe(
            id,
          );
      }, other);
      expect(
        (await entDbClient(other).executePlan(teamPlan("crash", "after"))).receipt?.applied,
      ).toBe(true);
    } finally {
      expect(await other.stop(), other.logs()).toBe(0);
      removeDataDir(dataDir);
    }
  }, 120_000);

  it("keeps starting a serving thread that fails to start again, a doubling wait apart", async () => {
    const { dataDir, stopFile, other } = await startWithStopHook();
    const logged = async (msg: string) => {
      const deadline = Date.now() + 20_000;
      while (!other.logs().includes(`"msg":"${msg}"`) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      return other
        .logs()
        .split("\n")
        .find((l) => l.includes(`"msg":"${msg}"`));
    };
    try {
      writeFileSync(stopFile, "");
      expect(await logged("serving thread stopped; starting it again"), other.logs()).toBeDefined();
      // The thread started again a second later finds the file: it fails while starting.
      writeFileSync(stopFile, "");
      const failed = await logged("serving thread could not start again");
      expect(failed, other.logs()).toBeDefined();
      expect(JSON.parse(failed!)).toMatchObject({ level: "error", thread: 1, retryInMs: 2_000 });
      expect(failed).toContain("failed on purpose while starting");
      // Then it is tried again, and serves.
      expect(await logged("serving thread started again"), other.logs()).toBeDefined();
      const id = (await entDbClient(other).executePlan(teamPlan("again", "again"))).results[0]!.id;
      // New connections go to both threads again (HTTP/2: a thread tunnels HTTP/1.1 whole).
      await onBothThreads(async () => {
        for (let i = 0; i < 2 * CONNECTIONS; i++) {
          const c = entDbClient(other, { protocol: "connect", httpVersion: "2", binary: true });
          const got = await c.getNode({ tenant: "again", typeId: TRACKER.team, id });
          expect(got.node?.id).toBe(id);
        }
      }, other);
    } finally {
      expect(await other.stop(), other.logs()).toBe(0);
      removeDataDir(dataDir);
    }
  }, 120_000);

  it("finishes the calls in flight on every thread at SIGTERM and exits 0", async () => {
    const other = await startServerProcess({ args: ["--serve-threads", "1"] });
    try {
      const clients = Array.from({ length: 2 * CONNECTIONS }, (_, i) =>
        entDbClient(
          other,
          i % 2 === 0
            ? { protocol: "connect", httpVersion: "2", binary: true }
            : { protocol: "grpc" },
        ),
      );
      const id = (await clients[0]!.executePlan(teamPlan("bye", "bye"))).results[0]!.id;
      await onBothThreads(async () => {
        for (const c of clients) await c.getNode({ tenant: "bye", typeId: TRACKER.team, id });
      }, other);
      // Calls on every connection, then SIGTERM while they are in flight.
      const inFlight = clients.flatMap((c) =>
        Array.from({ length: 20 }, () =>
          c.getNode({ tenant: "bye", typeId: TRACKER.team, id }).then(
            (r) => r.node?.id,
            (e: unknown) => e,
          ),
        ),
      );
      const code = other.stop();
      const results = await Promise.all(inFlight);
      expect(await code).toBe(0);
      // Each call was answered: with the node, or (if it was not started before the
      // server stopped accepting) refused: UNAVAILABLE, or its stream refused (REFUSED_STREAM,
      // which says it was not processed); none hangs or gets another answer.
      for (const r of results) {
        if (typeof r === "string") expect(r).toBe(id);
        else if ((r as { code?: unknown }).code !== Code.Unavailable)
          expect(String(r)).toContain("NGHTTP2_REFUSED_STREAM");
      }
      expect(results.filter((r) => r === id).length).toBeGreaterThan(0);
      expect(other.logs()).toContain('"msg":"stopped"');
    } finally {
      removeDataDir(other.dataDir);
    }
  }, 120_000);

  it("at SIGTERM, answers each write in flight on every thread either acknowledged, and then kept, or failed", async () => {
    const other = await startServerProcess({ args: ["--serve-threads", "1"] });
    let restarted: ServerProcess | undefined;
    try {
      const clients = Array.from({ length: 2 * CONNECTIONS }, (_, i) =>
        entDbClient(
          other,
          i % 2 === 0
            ? { protocol: "connect", httpVersion: "2", binary: true }
            : { protocol: "grpc" },
        ),
      );
      await clients[0]!.executePlan(teamPlan("bye", "first"));
      const before = (await threadCalls(other)).get("1") ?? 0;
      for (const c of clients) await c.executePlan(teamPlan("bye", `warm-${clients.indexOf(c)}`));
      expect((await threadCalls(other)).get("1") ?? 0).toBeGreaterThan(before);
      const inFlight = clients.flatMap((c, i) =>
        Array.from({ length: 10 }, (_, j) =>
          c.executePlan(teamPlan("bye", `term-${i}-${j}`)).then(
            (r) => ({ slug: `term-${i}-${j}`, id: r.results[0]!.id, applied: r.receipt?.applied }),
            (e: unknown) => ConnectError.from(e),
          ),
        ),
      );
      const code = other.stop();
      const results = await Promise.all(inFlight);
      expect(await code).toBe(0);
      const acked = results.filter(
        (r): r is Exclude<typeof r, ConnectError> => !(r instanceof ConnectError),
      );
      expect(acked.length).toBeGreaterThan(0);
      for (const a of acked) expect(a.applied).toBe(true);
      // Every acknowledged write is there after a restart on the same data.
      restarted = await startServerProcess({ dataDir: other.dataDir });
      const reader = entDbClient(restarted, {
        protocol: "connect",
        httpVersion: "2",
        binary: true,
      });
      for (const a of acked) {
        const got = await reader.getNode({ tenant: "bye", typeId: TRACKER.team, id: a.id });
        expect(got.node?.fields[TRACKER.teamSlug]?.kind.value).toBe(a.slug);
      }
    } finally {
      if (restarted) await restarted.stop();
      removeDataDir(other.dataDir);
    }
  }, 120_000);
});
