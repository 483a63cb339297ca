/**
 * The applier may take the event ingress built instead of decoding the logged bytes
 * (server/api/ingress/built-events.ts). That is only sound if both give the same tenant
 * state: a replay decodes the bytes, and it must give the live database byte for byte
 * (DESIGN.md contract 8). Random plans, sent as a client would (encoded and decoded as a
 * request), go through ingress and the log the way the server logs them; the live
 * applier takes every built event, a replay of the same log decodes every payload, and
 * the canonical dumps must be equal.
 */

import { join } from "node:path";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ExecutePlanRequest,
  ExecutePlanRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { type Operation, OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { BuiltEventRegistry } from "../../server/api/ingress/built-events.ts";
import { preparePlan } from "../../server/api/ingress/prepare-plan.ts";
import { Applier } from "../../server/apply/applier.ts";
import type { BuiltEvents } from "../../server/engine.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { prng } from "../prng.ts";
import { lookupOf, served, T, T0_MS, TRACKER_V1, tempDir } from "../store/store-fixtures.ts";
import { applyWholeLog } from "./apply-harness.ts";

const TENANTS = ["acme", "globex"];
const SCHEMA = served(1, TRACKER_V1);

/** Well-formed text from every plane: ASCII, accents, CJK, emoji (pairs), U+FFFD, NUL, quotes. */
const PIECES = [
  "a",
  "Z",
  "0",
  " ",
  "é",
  "ß",
  "漢",
  "字",
  "😀",
  "𝄞",
  "\uFFFD",
  "\u0000",
  '"',
  "\\",
  "\n",
  "ﬁ",
];

class Plans {
  readonly #rnd: () => number;
  /** Ids of nodes logged so far, per tenant and type (some deleted or never created). */
  readonly #ids = new Map<string, Map<number, string[]>>();
  #n = 0;

  constructor(seed: number) {
    this.#rnd = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.#rnd() * n);
  }

  chance(p: number): boolean {
    return this.#rnd() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  text(max = 12): string {
    let s = "";
    for (let i = this.int(max) + 1; i > 0; i--) s += this.pick(PIECES);
    return s;
  }

  /** A value a unique field sometimes repeats, so unique violations are decided too. */
  clashing(prefix: string): string {
    return `${prefix}${this.int(40)}${this.chance(0.5) ? this.text(3) : ""}`;
  }

  ts(): Value {
    const ms = T0_MS + this.int(1_000_000_000) - 500_000_000;
    const t = timestampFromMs(ms);
    t.nanos += this.int(1000) * 1000;
    return create(ValueSchema, { kind: { case: "timestampValue", value: t } });
  }

  json(depth = 0): unknown {
    const k = this.int(depth > 2 ? 4 : 6);
    if (k === 0) return this.text();
    if (k === 1) return this.chance(0.5) ? this.int(1e9) - 5e8 : this.#rnd() * 1e6;
    if (k === 2) return this.chance(0.5);
    if (k === 3) return null;
    if (k === 4) return Array.from({ length: this.int(4) }, () => this.json(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(4); i > 0; i--) o[this.text(4)] = this.json(depth + 1);
    return o;
  }

  known(tenant: string, type: number): string | undefined {
    const list = this.#ids.get(tenant)?.get(type) ?? [];
    return list.length === 0 ? undefined : this.pick(list);
  }

  /** Records the ids ingress minted for the creates of a logged plan. */
  minted(tenant: string, operations: readonly Operation[]): void {
    const byType = this.#ids.get(tenant) ?? new Map<number, string[]>();
    this.#ids.set(tenant, byType);
    for (const { op } of operations) {
      if (op.case !== "createNode") continue;
      const list = byType.get(op.value.typeId) ?? [];
      list.push(op.value.id);
      byType.set(op.value.typeId, list);
    }
  }

  /** One request of 1 to 6 steps, as a client builds it. */
  request(tenant: string): ExecutePlanRequest {
    const ops: Operation[] = [];
    const aliases = new Map<number, string[]>();
    const ref = (type: number): string | undefined => {
      const local = aliases.get(type) ?? [];
      if (local.length > 0 && this.chance(0.6)) return `$${this.pick(local)}`;
      return this.known(tenant, type);
    };
    const createOp = (typeId: number, fields: Record<number, Value>): void => {
      const alias = `n${this.#n++}`;
      const list = aliases.get(typeId) ?? [];
      list.push(alias);
      aliases.set(typeId, list);
      ops.push(
        opOf({ case: "createNode", value: { typeId, alias: list.at(-1) ?? alias, fields } }),
      );
    };
    for (let steps = this.int(4) + 1; steps > 0; steps--) {
      const kind = this.int(10);
      if (kind <= 1) {
        createOp(T.User, {
          1: str(this.clashing("mail")),
          2: str(this.text()),
          3: str(this.clashing("h")),
          ...(this.chance(0.5) ? { 4: str(this.text()) } : {}),
          ...(this.chance(0.5)
            ? {
                5: val({
                  case: "bytesValue",
                  value: Uint8Array.from({ length: this.int(20) }, () => this.int(256)),
                }),
              }
            : {}),
          6: this.ts(),
          ...(this.chance(0.5) ? { 7: val({ case: "boolValue", value: this.chance(0.5) }) } : {}),
        });
      } else if (kind === 2) {
        createOp(T.Team, {
          1: str(this.text()),
          2: str(this.clashing("slug")),
          ...(this.chance(0.5) ? { 3: str(this.text(30)) } : {}),
        });
      } else if (kind === 3) {
        const team = ref(T.Team);
        if (team === undefined) continue;
        createOp(T.Project, {
          1: val({ case: "refValue", value: team }),
          2: str(this.clashing("K")),
          3: str(this.text()),
          ...(this.chance(0.5)
            ? { 5: val({ case: "jsonValue", value: jsonText(this.json()) }) }
            : {}),
        });
      } else if (kind === 4) {
        const project = ref(T.Project);
        if (project === undefined) continue;
        const number = this.chance(0.2) ? 2n ** 62n - BigInt(this.int(5)) : BigInt(this.int(50));
        createOp(T.Task, {
          1: val({ case: "refValue", value: project }),
          2: val({ case: "intValue", value: this.chance(0.1) ? -number : number }),
          3: str(this.text()),
          ...(this.chance(0.5) ? { 4: str(this.text(40)) } : {}),
          ...(this.chance(0.5) ? { 5: val({ case: "enumValue", value: this.int(5) + 1 }) } : {}),
          ...(this.chance(0.5) ? { 7: this.ts() } : {}),
          ...(this.chance(0.5)
            ? {
                9: val({
                  case: "listValue",
                  value: { values: Array.from({ length: this.int(4) }, () => str(this.text(5))) },
                }),
              }
            : {}),
          ...(this.chance(0.5)
            ? { 10: val({ case: "floatValue", value: this.pick([-0, 0.1, 1e300, -2.5e-300, 3]) }) }
            : {}),
        });
      } else if (kind === 5) {
        const id = this.known(tenant, T.Task);
        if (id === undefined) continue;
        ops.push(
          opOf({
            case: "updateNode",
            value: {
              typeId: T.Task,
              id,
              set: this.chance(0.7) ? { 3: str(this.text()) } : { 8: int(this.int(1000)) },
              clear: this.chance(0.3) ? [4] : [],
              ...(this.chance(0.3)
                ? { precondition: { version: BigInt(this.int(3) + 1) } }
                : this.chance(0.2)
                  ? { precondition: { fieldsEqual: { 6: val({ case: "enumValue", value: 2 }) } } }
                  : {}),
            },
          }),
        );
      } else if (kind === 6) {
        // Now and then under another type than the node's: not_found.
        const typeId = this.pick([T.Task, T.Team, T.User]);
        const id = this.known(tenant, this.chance(0.9) ? typeId : T.Team);
        if (id === undefined) continue;
        ops.push(opOf({ case: "deleteNode", value: { typeId, id } }));
      } else if (kind === 7) {
        const from = ref(T.User);
        const to = ref(T.Team);
        if (from === undefined || to === undefined) continue;
        ops.push(
          opOf({
            case: "createEdge",
            value: {
              edgeTypeId: T.MemberOf,
              fromId: from,
              toId: to,
              props: {
                2: this.ts(),
                ...(this.chance(0.5)
                  ? { 1: val({ case: "enumValue", value: this.int(3) + 1 }) }
                  : {}),
              },
            },
          }),
        );
      } else if (kind === 8) {
        const from = ref(T.Task);
        const to = ref(T.Task);
        if (from === undefined || to === undefined) continue;
        ops.push(
          opOf({
            case: "createEdge",
            value: {
              edgeTypeId: T.BlockedBy,
              fromId: from,
              toId: to,
              props: this.chance(0.5) ? { 1: str(this.text()) } : {},
            },
          }),
        );
      } else {
        const from = this.known(tenant, T.User);
        const to = this.known(tenant, T.Team);
        if (from === undefined || to === undefined) continue;
        ops.push(
          opOf({ case: "deleteEdge", value: { edgeTypeId: T.MemberOf, fromId: from, toId: to } }),
        );
      }
    }
    if (ops.length === 0) createOp(T.Team, { 1: str(this.text()), 2: str(this.clashing("slug")) });
    const request = create(ExecutePlanRequestSchema, {
      tenant,
      operations: ops,
      idempotencyKey: this.chance(0.1) ? `retry${this.int(5)}` : `k${this.#n}-${this.text(6)}`,
    });
    // What the server decodes: a client's request goes over the wire.
    return fromBinary(ExecutePlanRequestSchema, toBinary(ExecutePlanRequestSchema, request));
  }
}

function val(kind: NonNullable<MessageInitShape<typeof ValueSchema>["kind"]>): Value {
  return create(ValueSchema, { kind });
}

function str(value: string): Value {
  return val({ case: "stringValue", value });
}

function int(n: number): Value {
  return val({ case: "intValue", value: BigInt(n) });
}

function opOf(op: NonNullable<MessageInitShape<typeof OperationSchema>["op"]>): Operation {
  return create(OperationSchema, { op });
}

function jsonText(value: unknown): string {
  return JSON.stringify(value);
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(label: string): string {
  const d = tempDir(label);
  cleanups.push(() => d.remove());
  return d.path;
}

/** Applies `wal` from the start into a fresh data dir; returns each tenant's dump. */
async function materialize(wal: EmbeddedWal, built?: BuiltEvents): Promise<string[]> {
  const store = openStore({ dataDir: dir("store"), schemas: lookupOf(SCHEMA) });
  const applier = new Applier({ wal, store, ...(built ? { builtEvents: built } : {}) });
  await applyWholeLog(applier);
  expect(applier.parkedTenants().map((p) => p.error.message)).toEqual([]);
  expect(applier.stats.bad).toBe(0);
  store.close();
  return TENANTS.map((t) => canonicalDump(store.tenantPath(t)));
}

describe("the applier taking the event ingress built", () => {
  it("gives the tenant databases a replay of the logged bytes gives, byte for byte", async () => {
    const wal = await openEmbeddedWal({
      path: join(dir("wal"), "wal.sqlite"),
      partitions: 2,
      writer: "inline",
    });
    cleanups.push(() => wal.close());
    const plans = new Plans(7);
    const registry = new BuiltEventRegistry();
    const appends: Promise<unknown>[] = [];
    let logged = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const tenant = plans.pick(TENANTS);
      const request = plans.request(tenant);
      let event: ReturnType<typeof preparePlan>;
      try {
        event = preparePlan(request.operations, {
          schema: SCHEMA.model,
          schemaVersion: SCHEMA.version,
          tenant,
          actor: "user:ada",
          idempotencyKey: request.idempotencyKey,
          now: T0_MS + i * 1000,
          actorAdmin: plans.chance(0.5),
          openAccess: plans.chance(0.7),
          actorGroups: plans.chance(0.5) ? ["group:devs", "group:ops"] : [],
        });
      } catch {
        refused++; // a delete of an unknown type's id, an alias of the wrong type: ingress says no
        continue;
      }
      const payload = toBinary(WalEventSchema, event);
      registry.add(tenant, payload, event);
      // Batches of 1 to 8 appends, so the applier sees batches of several events too.
      const append = wal.append([{ tenant, payload }]);
      appends.push(append);
      if (plans.chance(0.8)) await append;
      plans.minted(tenant, event.body.case === "plan" ? event.body.value.operations : []);
      logged++;
    }
    await Promise.all(appends);
    // The scenario is worth its name: most plans were logged, many applied, many rejected.
    expect(logged).toBeGreaterThan(300);
    expect(refused).toBeLessThan(100);

    const live = await materialize(wal, registry);
    expect(registry.taken).toBe(logged);
    expect(registry.pending).toBe(0);
    const replayed = await materialize(wal);
    expect(live.map((d) => d.length)).toEqual(replayed.map((d) => d.length));
    for (let t = 0; t < TENANTS.length; t++) expect(live[t]).toBe(replayed[t]);
    // The state is not trivial: nodes, edges, and the applier's decisions of every kind.
    for (const decision of ["UNIQUE_VIOLATION", "MISSING_REF", "permission_denied", "not_found"])
      expect(live.join("\n")).toContain(decision);
    expect(live[0]!.length).toBeGreaterThan(50_000);
  });

  it("hands an event out only for its exact bytes, once, and forgets a released one", () => {
    const registry = new BuiltEventRegistry();
    const event = create(WalEventSchema, {
      tenant: "acme",
      actor: "user:ada",
      idempotencyKey: "k",
    });
    const payload = toBinary(WalEventSchema, event);
    const release = registry.add("acme", payload, event);
    const other = toBinary(WalEventSchema, { ...event, idempotencyKey: "j" });
    expect(registry.take("acme", other)).toBeUndefined();
    expect(registry.take("globex", payload.slice())).toBeUndefined();
    expect(registry.take("acme", payload.slice())).toBe(event);
    expect(registry.take("acme", payload.slice())).toBeUndefined();
    release();
    const again = registry.add("acme", payload, event);
    again();
    expect(registry.take("acme", payload)).toBeUndefined();
    expect([registry.taken, registry.pending]).toEqual([1, 0]);
  });
});
