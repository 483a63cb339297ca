/**
 * A create decoded lean (`decodeWalEventLean`, as a restore's appliers decode) is applied
 * as the same create decoded whole: the same outcomes, rejections included, and the same
 * stored bytes, for random values of every kind in fields of every kind (64-bit extremes
 * and integers past 2^53, unicode, empty strings and refs, nested JSON, a kind the field
 * does not take, unknown enum numbers, nulls, unknown fields, refs an `if_absent_on`
 * redirects), one plan a batch and many (optimistic runs, held rows).
 */

import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import type { FieldType } from "../../schema/served.ts";
import { decodeWalEventLean, LeanCreateNode } from "../../server/apply/wal-event-decode.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import type { WalRecord } from "../../server/wal/wal.ts";
import { prng } from "../prng.ts";
import { op, planEvent, T, TRACKER_V1, v } from "../store/store-fixtures.ts";
import { type Harness, openHarness } from "./apply-harness.ts";

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

const STRINGS = [
  "",
  "a",
  "Team 1",
  "team-1",
  "Ünïcödé",
  "\ud83d\ude00 grin",
  "漢字かな",
  '"quoted" \\ back',
  "ctl\u0000\u001f\n",
  "x".repeat(200),
];
const INTS = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 3n, 2n ** 63n - 1n, -(2n ** 63n), 42n];
const JSONS = [
  '{"a":[1,{"b":9007199254740993}],"c":"ü"}',
  "[]",
  '"s"',
  "1.0",
  "-0",
  "not json",
  "",
];

/** The field kinds whose values a lean create keeps as read. */
const PLAIN = new Set(["string", "int", "bool", "enum", "ref"]);

function scenario(seed: number): { records: WalRecord[][]; keys: string[] } {
  const random = prng(seed);
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)]!;
  const ids = new Map<number, string[]>();
  let n = 0;
  const fresh = () => `0190a000-0000-7000-8000-${String(n++).padStart(12, "0")}`;
  const refTo = (typeId: number): string => {
    const r = random();
    if (r < 0.02) return "";
    if (r < 0.04) return fresh();
    const known = r < 0.06 ? [...ids.values()].flat() : (ids.get(typeId) ?? []);
    return known.length > 0 ? pick(known) : fresh();
  };
  const valueFor = (type: FieldType): Value => {
    switch (type.kind) {
      case "string":
        return v.str(random() < 0.6 ? `${pick(STRINGS)} ${n++}` : pick(STRINGS));
      case "int":
        return v.int(pick(INTS));
      case "float":
        return v.float(random() < 0.05 ? Number.NaN : pick([0.5, -0, 1e300, 3]));
      case "bool":
        return v.bool(random() < 0.5);
      case "enum":
        return v.enum(random() < 0.1 ? pick([0, -1, 9]) : 1 + Math.floor(random() * 4));
      case "ref":
        return v.ref(refTo(type.targetId));
      case "json":
        return v.json(random() < 0.05 ? "not json" : pick(JSONS));
      case "timestamp":
        return v.ts(Math.floor(random() * 2e12));
      case "bytes":
        return v.bytes(Uint8Array.of(1, 2, 250));
      case "list":
        return v.list(...[0, 1].map(() => valueFor(type.element)));
    }
  };
  const anyValue = (): Value => {
    const r = random();
    if (r < 0.2) return v.null();
    if (r < 0.3) return create(ValueSchema, {});
    return valueFor(
      pick<FieldType>([
        { kind: "string" },
        { kind: "int" },
        { kind: "bool" },
        { kind: "enum", enumName: "Priority" },
        { kind: "ref", targetId: T.Team },
        { kind: "json" },
      ]),
    );
  };
  const createOf = (typeId: number, id: string): Operation => {
    const type = TRACKER_V1.nodes.find((t) => t.id === typeId)!;
    const fields: Record<number, Value> = {};
    for (const f of type.fields) {
      // Fields of other kinds make a create whole: left out often, so that many are lean.
      if (!f.required && !PLAIN.has(f.type.kind) && random() < 0.6) continue;
      const r = random();
      if (r < 0.02) continue;
      fields[f.id] = r < 0.05 ? anyValue() : valueFor(f.type);
    }
    if (random() < 0.03) fields[99] = v.str("unknown");
    const ifAbsent = typeId === T.Team && random() < 0.2 ? [2] : [];
    return op.createNode(typeId, id, fields, ifAbsent);
  };
  const records: WalRecord[][] = [];
  const keys: string[] = [];
  for (let b = 0; b < 60; b++) {
    const batch: WalRecord[] = [];
    const plans = random() < 0.3 ? 1 : 1 + Math.floor(random() * 30);
    for (let p = 0; p < plans; p++) {
      const operations: Operation[] = [];
      const count = 1 + Math.floor(random() * 2);
      for (let o = 0; o < count; o++) {
        const typeId = pick([T.User, T.Team, T.Team, T.Project, T.Task, T.Comment]);
        const taken = [...ids.values()].flat();
        const id = random() < 0.03 && taken.length > 0 ? pick(taken) : fresh();
        operations.push(createOf(typeId, id));
        // A Project of the Team just created: its ref redirected if the create resolved.
        if (typeId === T.Team && random() < 0.5)
          operations.push(
            op.createNode(T.Project, fresh(), {
              1: v.ref(id),
              2: v.str(pick(STRINGS)),
              3: v.str("p"),
            }),
          );
        const list = ids.get(typeId) ?? [];
        list.push(id);
        ids.set(typeId, list);
      }
      const key = `k${keys.length}`;
      keys.push(key);
      batch.push({ tenant: "acme", payload: planEvent("acme", key, operations) });
    }
    records.push(batch);
  }
  return { records, keys };
}

describe("lean creates", () => {
  it("are applied as whole ones: the same outcomes and stored bytes", async () => {
    for (const seed of [3, 17, 99]) {
      const { records, keys } = scenario(seed);
      const whole = openHarness();
      const lean = openHarness({ leanCreates: true });
      open.push(whole, lean);
      for (const batch of records) {
        whole.run(batch);
        lean.run(batch);
      }
      const outcomes = keys.map((k) => whole.reader.outcomeByKey("acme", k));
      expect(keys.map((k) => lean.reader.outcomeByKey("acme", k))).toEqual(outcomes);
      expect(canonicalDump(lean.store.tenant("acme", false)!)).toBe(
        canonicalDump(whole.store.tenant("acme", false)!),
      );
      // The scenario reaches what it is for: lean creates, and each way a create fails.
      const leanCreates = records
        .flat()
        .flatMap((r) => {
          const event = decodeWalEventLean(r.payload);
          return event.body.case === "plan" ? event.body.value.operations : [];
        })
        .filter((o) => o.op.value instanceof LeanCreateNode).length;
      expect(leanCreates).toBeGreaterThan(300);
      const reasons = new Set(outcomes.map((o) => o?.failure?.reason ?? "applied"));
      for (const reason of [
        "applied",
        "INVALID_VALUE",
        "UNKNOWN_FIELD",
        "REQUIRED_FIELD",
        "MISSING_REF",
        "UNIQUE_VIOLATION",
        "ID_EXISTS",
      ])
        expect([seed, reasons.has(reason)]).toEqual([seed, true]);
      expect(outcomes.filter((o) => o?.failure === undefined).length).toBeGreaterThan(50);
    }
  });
});
