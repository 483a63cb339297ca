/**
 * A write waiting for its apply when the server stops serving its tenant (a server of a
 * cluster lost the partition: `waitGate` and `recheckWaits`, as server.ts wires them to
 * the cluster's membership) ends at once with the answer a new call gets, and says that
 * it was logged and may have been applied, with its key. Against a real embedded log,
 * store and applier; the applier is not started, so the plan stays logged and not applied
 * as on a partition the server no longer applies.
 */

import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EntDbService, ExecutePlanRequestSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { TenantOwnerSchema } from "../../generated/entdbcluster/v1/cluster_pb.js";
import { lookupOf, served, T, TRACKER_V1, tempDir } from "../../tests/store/store-fixtures.ts";
import { Applier } from "../apply/applier.ts";
import { ownedByNoOne, ownedElsewhere } from "../cluster/tenant-owner-error.ts";
import { READ_LIMITS } from "../store/index.ts";
import { openStore } from "../store/store.ts";
import { createTenantReader } from "../store/store-reader.ts";
import { validateTenantId } from "../store/tenant-id.ts";
import { openEmbeddedWal } from "../wal/embedded-wal.ts";
import { type Actor, actorKey } from "./auth.ts";
import { CallValues } from "./call-values.ts";
import { type ApiDeps, DEFAULT_API_LIMITS } from "./entdb-service.ts";
import { createPlanHandlers } from "./execute-plan.ts";
import { createTenantGuard } from "./tenant-guard.ts";
import { createCallSignals, handlerContext } from "./unary-call.ts";

const V1 = served(1, TRACKER_V1);
const ALICE: Actor = { id: "user:alice", groups: [], admin: false };
const OWNER = "http://10.0.0.6:50051";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose gate refuses every tenant with `refusal()` once it returns one. */
async function server() {
  const dir = tempDir("lost-partition-wait");
  cleanups.push(() => dir.remove());
  const wal = await openEmbeddedWal({ path: join(dir.path, "wal.sqlite"), writer: "inline" });
  cleanups.push(() => wal.close());
  const store = openStore({ dataDir: join(dir.path, "data"), schemas: lookupOf(V1) });
  cleanups.push(() => store.close());
  let refusal: ((tenant: string) => ConnectError) | undefined;
  const applier = new Applier({
    wal,
    store,
    waitGate: (tenant) => {
      if (refusal) throw refusal(tenant);
    },
  });
  const deps: ApiDeps = {
    served: () => V1,
    wal,
    reader: createTenantReader(store, READ_LIMITS),
    progress: applier,
    checkTenant: validateTenantId,
    descriptorSet: new Uint8Array(0),
    limits: DEFAULT_API_LIMITS,
    logError: () => {},
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
  const ctx = () => {
    const values = new CallValues().set(actorKey, ALICE);
    return handlerContext(target, "grpc", "http://localhost/", {}, startCall(), values).context;
  };
  return {
    wal,
    applier,
    plans,
    ctx,
    /** From now on the server does not serve any tenant: it answers `error`. */
    lose: (error: (tenant: string) => ConnectError) => {
      refusal = error;
      applier.recheckWaits();
    },
  };
}

const plan = (idempotencyKey: string) =>
  create(ExecutePlanRequestSchema, {
    tenant: "acme",
    idempotencyKey,
    operations: [
      {
        op: {
          case: "createNode",
          value: {
            typeId: T.Team,
            fields: {
              1: { kind: { case: "stringValue", value: "Core" } },
              2: { kind: { case: "stringValue", value: "core" } },
            },
          },
        },
      },
    ],
  });

/** Resolves once the log holds `count` entries of acme's partition. */
async function logged(s: Awaited<ReturnType<typeof server>>, count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await s.wal.endOffset(s.wal.partitionFor("acme"))) < count) {
    if (Date.now() > deadline) throw new Error(`the log did not reach ${count} entries`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("a write waiting for its apply on a partition the server lost", () => {
  it("ends at once with the owner's redirect, saying it may have been applied and naming its key", async () => {
    const s = await server();
    const started = performance.now();
    const answer = s.plans.executePlan(plan("k-lost-1"), s.ctx()).then(
      () => undefined,
      (err: unknown) => err,
    );
    await logged(s, 1);
    const partition = s.wal.partitionFor("acme");
    s.lose((tenant) => ownedElsewhere(tenant, partition, OWNER));
    const err = await answer;
    expect(performance.now() - started).toBeLessThan(DEFAULT_API_LIMITS.applyWaitMs / 2);
    expect(err).toBeInstanceOf(ConnectError);
    const e = err as ConnectError;
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(e.rawMessage).toBe(
      `Tenant 'acme' is served by ${OWNER} (partition ${partition} of the log is owned there, not here); send the call to that server. The write was logged with idempotency key 'k-lost-1' and may have been applied: send it again with that key, which answers its outcome and never applies it twice.`,
    );
    expect(e.metadata.get("entdb-tenant-owner")).toBe(OWNER);
    expect(e.findDetails(TenantOwnerSchema).map((d) => [d.tenant, d.url])).toEqual([
      ["acme", OWNER],
    ]);
  });

  it("ends with UNAVAILABLE and its retry hint during a rebalance, and a later wait fails before it blocks", async () => {
    const s = await server();
    const answer = s.plans.executePlan(plan("k-lost-2"), s.ctx()).then(
      () => undefined,
      (err: unknown) => err,
    );
    await logged(s, 1);
    const rebalancing = (tenant: string) =>
      ownedByNoOne(tenant, "no server of the cluster owns its partition", 500);
    s.lose(rebalancing);
    const e = (await answer) as ConnectError;
    expect(e.code).toBe(Code.Unavailable);
    expect(e.metadata.get("retry-after")).toBe("1");
    expect(e.rawMessage).toMatch(
      /^Tenant 'acme' is not served right now: .* The write was logged with idempotency key 'k-lost-2' and may have been applied/,
    );
    expect(e.findDetails(TenantOwnerSchema)[0]?.retryAfterMs).toBe(500);

    // A wait that starts after the loss (its call passed the gate before) does not block.
    const started = performance.now();
    await expect(
      s.applier.waitFor(
        "acme",
        { partition: s.wal.partitionFor("acme"), offset: 0 },
        DEFAULT_API_LIMITS.applyWaitMs,
      ),
    ).rejects.toThrow(rebalancing("acme").message);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
