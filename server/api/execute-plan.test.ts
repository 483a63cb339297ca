/**
 * A plan whose ingress ran elsewhere (a serving thread, `prepareHandedPlan`) and is logged
 * by `executePrepared` answers exactly as `executePlan` answers the same request: against
 * a real embedded log, store and applier. Its event is logged as the bytes ingress built;
 * a keyed retry answers the original outcome; a refused plan is not prepared (the request
 * runs whole); a version pushed between ingress and the append makes the request run
 * whole against the version served at the append.
 */

import { join } from "node:path";
import { create, fromBinary, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  EntDbService,
  type ExecutePlanRequest,
  ExecutePlanRequestSchema,
  type ExecutePlanResponse,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { lockFromSchema, modelFromLock } from "../../schema/index.ts";
import {
  compile,
  lookupOf,
  served,
  T,
  TRACKER_TEXT,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
} from "../../tests/store/store-fixtures.ts";
import { Applier } from "../apply/applier.ts";
import type { ServedSchema } from "../engine.ts";
import { READ_LIMITS } from "../store/index.ts";
import { openStore } from "../store/store.ts";
import { createTenantReader } from "../store/store-reader.ts";
import { validateTenantId } from "../store/tenant-id.ts";
import { openEmbeddedWal } from "../wal/embedded-wal.ts";
import type { Wal } from "../wal/wal.ts";
import { type Actor, actorKey } from "./auth.ts";
import { CallValues } from "./call-values.ts";
import { type ApiDeps, DEFAULT_API_LIMITS } from "./entdb-service.ts";
import {
  createPlanHandlers,
  HANDED_INGRESS_MIN_OPERATIONS,
  prepareHandedPlan,
} from "./execute-plan.ts";
import { preparePlan } from "./ingress/prepare-plan.ts";
import { createTenantGuard } from "./tenant-guard.ts";
import { createCallSignals, handlerContext } from "./unary-call.ts";

const V1 = served(1, TRACKER_V1);
/** Version 2: every Team must have a `motto`, so a Team plan of version 1 is refused. */
const V2 = served(
  2,
  compile(
    TRACKER_TEXT.replace(
      "description: string = 3 [searchable];",
      "description: string = 3 [searchable];\n  motto: string = 4 [required];",
    ),
  ),
);
const ALICE: Actor = { id: "user:alice", groups: ["group:eng"], admin: false };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engine(later: ServedSchema = V2) {
  const dir = tempDir("execute-plan");
  cleanups.push(() => dir.remove());
  const wal = await openEmbeddedWal({ path: join(dir.path, "wal.sqlite"), writer: "inline" });
  cleanups.push(() => wal.close());
  const store = openStore({ dataDir: join(dir.path, "data"), schemas: lookupOf(V1, later) });
  cleanups.push(() => store.close());
  const applier = new Applier({ wal, store });
  applier.start();
  cleanups.push(() => applier.stop());
  let current: ServedSchema = V1;
  const errors: unknown[] = [];
  /** Every payload handed to the log, in order. */
  const appended: Uint8Array[] = [];
  const seenWal: Wal = {
    identity: wal.identity,
    partitions: wal.partitions,
    get failure() {
      return wal.failure;
    },
    partitionFor: (tenant) => wal.partitionFor(tenant),
    append: (records) => {
      for (const r of records) appended.push(r.payload);
      return wal.append(records);
    },
    endOffset: (partition) => wal.endOffset(partition),
    subscribe: (options) => wal.subscribe(options),
    close: () => wal.close(),
  };
  const deps: ApiDeps = {
    served: () => current,
    wal: seenWal,
    reader: createTenantReader(store, READ_LIMITS),
    progress: applier,
    checkTenant: validateTenantId,
    descriptorSet: new Uint8Array(0),
    limits: DEFAULT_API_LIMITS,
    logError: (err) => errors.push(err),
    access: { get: () => undefined },
    openAccess: true,
    listTenantIds: () => [],
  };
  const plans = createPlanHandlers(deps, createTenantGuard(deps));
  const startCall = createCallSignals(new AbortController().signal);
  const target = {
    service: EntDbService,
    method: EntDbService.method.executePlan,
    impl: () => undefined,
  };
  /** A handler context for ALICE, as the fast path makes one. */
  const ctx = () => {
    const values = new CallValues().set(actorKey, ALICE);
    return handlerContext(target, "grpc", "http://localhost/", {}, startCall(), values).context;
  };
  /** What a serving thread does: ingress, then the plan (structured-cloned) logged here. */
  const handed = async (req: ExecutePlanRequest, between?: () => void) => {
    const prepared = prepareHandedPlan(req, ALICE, deps);
    between?.();
    if (prepared === undefined) return { prepared, answer: await plans.executePlan(req, ctx()) };
    const crossed = structuredClone(prepared);
    const answer = await plans.executePrepared(crossed, ctx(), () =>
      fromBinary(ExecutePlanRequestSchema, toBinary(ExecutePlanRequestSchema, req)),
    );
    return { prepared, answer };
  };
  const logged = () => appended;
  return {
    plans,
    ctx,
    handed,
    logged,
    errors,
    /** Serves `later` from now on, as a push would. */
    push: () => {
      current = later;
    },
  };
}

const str = (value: string) => ({ kind: { case: "stringValue" as const, value } });
/** Creates of Team `slug`, `slug-1`, …: enough steps for a serving thread to run their ingress. */
function teamOps(slug: string) {
  return Array.from({ length: HANDED_INGRESS_MIN_OPERATIONS }, (_, i) => ({
    op: {
      case: "createNode" as const,
      value: {
        typeId: T.Team,
        fields: { 1: str(`Team ${slug} ${i}`), 2: str(i === 0 ? slug : `${slug}-${i}`) },
      },
    },
  }));
}

function teamPlan(
  slug: string,
  init: { readonly tenant?: string; readonly idempotencyKey?: string } = {},
) {
  return create(ExecutePlanRequestSchema, { tenant: "acme", operations: teamOps(slug), ...init });
}

/** What a client sees of an error. */
async function refusal(answer: Promise<unknown>) {
  const e = ConnectError.from(
    await answer.then(
      () => undefined,
      (err: unknown) => err,
    ),
  );
  return { code: e.code, message: e.rawMessage };
}

const idsOf = (answer: ExecutePlanResponse) => answer.results.map((r) => r.id);

describe("a plan prepared off the thread that logs it", () => {
  it("logs the bytes ingress built and answers the ids they hold", async () => {
    const e = await engine();
    const { prepared, answer } = await e.handed(teamPlan("a", { idempotencyKey: "k-a" }));
    expect(prepared).toBeDefined();
    const [payload] = e.logged();
    expect(payload).toEqual(prepared?.payload);
    const event = fromBinary(WalEventSchema, payload!);
    expect(event.tenant).toBe("acme");
    expect(event.actor).toBe(ALICE.id);
    expect(event.idempotencyKey).toBe("k-a");
    expect(event.schemaVersion).toBe(1);
    const op = event.body.case === "plan" ? event.body.value.operations[0]?.op : undefined;
    expect(op?.case === "createNode" ? op.value.id : undefined).toBe(answer.results[0]?.id);
    expect(answer.receipt).toMatchObject({
      tenant: "acme",
      applied: true,
      replayed: false,
      idempotencyKey: "k-a",
      schemaVersion: 1,
    });
  });

  it("answers a keyed retry with the original outcome and ids, and a reused key as executePlan does", async () => {
    const e = await engine();
    const first = await e.plans.executePlan(teamPlan("b", { idempotencyKey: "k-b" }), e.ctx());
    const again = await e.handed(teamPlan("b", { idempotencyKey: "k-b" }));
    expect(again.prepared).toBeDefined();
    expect(idsOf(again.answer)).toEqual(idsOf(first));
    expect(again.answer.receipt?.replayed).toBe(true);
    expect(again.answer.receipt?.position).toEqual(first.receipt?.position);
    expect(e.logged()).toHaveLength(1);
    const other = teamPlan("other", { idempotencyKey: "k-b" });
    const direct = await refusal(e.plans.executePlan(other, e.ctx()));
    expect(direct.code).toBe(Code.FailedPrecondition);
    expect(await refusal(e.handed(other))).toEqual(direct);
  });

  it("answers a unique clash as executePlan does", async () => {
    const e = await engine();
    await e.plans.executePlan(teamPlan("c"), e.ctx());
    const direct = await refusal(e.plans.executePlan(teamPlan("c"), e.ctx()));
    expect(direct.code).toBe(Code.AlreadyExists);
    expect(await refusal(e.handed(teamPlan("c")))).toEqual(direct);
  });

  it("does not prepare a plan ingress refuses: the request runs whole and is refused alike", async () => {
    const e = await engine();
    const bad = [
      create(ExecutePlanRequestSchema, {
        tenant: "acme",
        operations: [
          ...teamOps("d1"),
          { op: { case: "createNode", value: { typeId: 999, fields: {} } } },
        ],
      }),
      create(ExecutePlanRequestSchema, {
        tenant: "acme",
        operations: [
          ...teamOps("d2"),
          {
            op: {
              case: "createNode",
              value: { typeId: T.Team, fields: { 1: str("x"), 2: str("x"), 9: str("x") } },
            },
          },
        ],
      }),
      create(ExecutePlanRequestSchema, { tenant: "acme", operations: [] }),
      teamPlan("d", { tenant: "" }),
      teamPlan("d", { tenant: "../etc" }),
      teamPlan("d", { idempotencyKey: "k".repeat(257) }),
      teamPlan("d", { idempotencyKey: "lone \uD800" }),
    ];
    for (const req of bad) {
      expect(prepareHandedPlan(req, ALICE, { ...ingressDeps, served: () => V1 })).toBeUndefined();
      const direct = await refusal(e.plans.executePlan(req, e.ctx()));
      expect(direct.code).toBe(Code.InvalidArgument);
      expect(await refusal(e.handed(req))).toEqual(direct);
    }
    expect(e.logged()).toHaveLength(0);
  });

  it("leaves a plan of fewer steps than HANDED_INGRESS_MIN_OPERATIONS to the thread that logs it", async () => {
    const deps = { ...ingressDeps, served: () => V1 };
    const small = create(ExecutePlanRequestSchema, {
      tenant: "acme",
      operations: teamOps("g").slice(1),
    });
    expect(prepareHandedPlan(small, ALICE, deps)).toBeUndefined();
    expect(prepareHandedPlan(teamPlan("g"), ALICE, deps)).toBeDefined();
    const e = await engine();
    const { prepared, answer } = await e.handed(small);
    expect(prepared).toBeUndefined();
    expect(answer.results).toHaveLength(HANDED_INGRESS_MIN_OPERATIONS - 1);
  });

  it("runs the request whole against the version pushed between its ingress and the append", async () => {
    const e = await engine();
    // Checked against version 1, refused by version 2 (Team.motto is required there).
    const refused = await refusal(e.handed(teamPlan("e"), () => e.push()));
    expect(refused).toEqual({
      code: Code.InvalidArgument,
      message: "Field Team.motto (id 4) is required; set it.",
    });
    expect(e.logged()).toHaveLength(0);
    // Valid in both (version 2 adds an index and a field to other types): logged as
    // version 2's ingress builds it.
    const plan = teamPlan("f");
    const e2 = await engine(served(2, TRACKER_V2));
    const { prepared, answer } = await e2.handed(plan, () => e2.push());
    expect(fromBinary(WalEventSchema, prepared!.payload).schemaVersion).toBe(1);
    expect(answer.receipt?.schemaVersion).toBe(2);
    const [payload] = e2.logged();
    expect(payload).not.toEqual(prepared?.payload);
    expect(fromBinary(WalEventSchema, payload!).schemaVersion).toBe(2);
  });
});

/** The settings ingress reads, for a check that needs no engine. */
const ingressDeps = {
  checkTenant: validateTenantId,
  limits: DEFAULT_API_LIMITS,
  openAccess: true,
} as const;

describe("ingress on a serving thread", () => {
  it("builds the event the main thread builds: a version loaded from its lock file checks and fills a plan as the compiled schema does", () => {
    const fromLock = modelFromLock(lockFromSchema(TRACKER_V1), "v1.lock.json");
    const val = (kind: MessageInitShape<typeof ValueSchema>["kind"]) => ({ kind });
    const node = (typeId: number, alias: string, fields: Record<number, unknown>) => ({
      op: { case: "createNode" as const, value: { typeId, alias, fields } },
    });
    const req = create(ExecutePlanRequestSchema, {
      tenant: "acme",
      operations: [
        node(T.Team, "t", { 1: str("Web"), 2: str("web") }),
        node(T.Project, "p", {
          1: val({ case: "refValue", value: "$t" }),
          2: str("WEB"),
          3: str("Website"),
        }),
        node(T.Task, "", {
          1: val({ case: "refValue", value: "$p" }),
          2: val({ case: "intValue", value: 42n }),
          3: str("Ship it"),
        }),
        node(T.User, "u", {
          1: str("ada@example.com"),
          2: str("Ada"),
          3: str("ada"),
          6: val({ case: "timestampValue", value: { seconds: 1_700_000_000n, nanos: 5000 } }),
        }),
        {
          op: {
            case: "createEdge" as const,
            value: {
              edgeTypeId: T.MemberOf,
              fromId: "$u",
              toId: "$t",
              props: { 2: val({ case: "timestampValue", value: { seconds: 1n, nanos: 0 } }) },
            },
          },
        },
      ],
    } as MessageInitShape<typeof ExecutePlanRequestSchema>);
    const eventJson = (schema: typeof TRACKER_V1) => {
      const event = preparePlan(req.operations, {
        schema,
        schemaVersion: 1,
        tenant: "acme",
        actor: ALICE.id,
        idempotencyKey: "k",
        now: 1_700_000_000_123,
      });
      // Ids are random: each becomes its place of first appearance.
      const ids = new Map<string, string>();
      return JSON.stringify(toJson(WalEventSchema, event)).replace(
        /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
        (id) => ids.get(id) ?? ids.set(id, `id${ids.size}`).get(id)!,
      );
    };
    const compiled = eventJson(TRACKER_V1);
    // Defaults filled in: Task.status and .priority, User.time_zone and .active, Project.archived.
    expect(compiled).toContain('"4":{"stringValue":"UTC"}');
    expect(compiled).toContain('"6":{"enumValue":2}');
    expect(eventJson(fromLock)).toBe(compiled);
  });
});
