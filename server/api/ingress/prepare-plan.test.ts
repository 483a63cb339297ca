import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { WriteFailureSchema } from "../../../generated/entdb/v1/entdb_pb.js";
import { type Operation, OperationSchema } from "../../../generated/entdb/v1/plan_pb.js";
import { WalEventSchema } from "../../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../../schema/index.ts";
import { compileSchema } from "../../../schema/index.ts";
import { preparePlan } from "./prepare-plan.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const path = join(root, "examples", "tracker", "schema.entdb");
const compiled = compileSchema({ path, text: readFileSync(path, "utf8") });
const schema = compiled.schema as Schema;

// Type and field ids of the tracker example.
const USER = 1;
const PROJECT = 3;
const TASK = 4;
const ASSIGNED_TO = 101;
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

const str = (value: string) => ({ kind: { case: "stringValue" as const, value } });
const int = (value: bigint) => ({ kind: { case: "intValue" as const, value } });
const ref = (value: string) => ({ kind: { case: "refValue" as const, value } });
const ts = (seconds: bigint, nanos = 0) => ({
  kind: { case: "timestampValue" as const, value: { seconds, nanos } },
});

function op(init: Parameters<typeof create<typeof OperationSchema>>[1]): Operation {
  return create(OperationSchema, init);
}

function prepare(ops: Operation[], options: { now?: number } = {}) {
  return preparePlan(ops, {
    schema,
    schemaVersion: 3,
    tenant: "acme",
    actor: "user:ada",
    idempotencyKey: "k1",
    now: options.now ?? NOW,
  });
}

/** Runs `fn`, expecting an INVALID_ARGUMENT, and returns its message and detail. */
function rejection(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    const e = ConnectError.from(err);
    expect(e.code).toBe(Code.InvalidArgument);
    const [detail] = e.findDetails(WriteFailureSchema);
    return { message: e.rawMessage, detail };
  }
  throw new Error("expected the plan to be rejected");
}

const createUser = (alias = "") =>
  op({
    op: {
      case: "createNode",
      value: {
        typeId: USER,
        alias,
        fields: { 1: str("ada@example.com"), 2: str("Ada"), 3: str("ada"), 6: ts(1_700_000_000n) },
      },
    },
  });

describe("preparePlan", () => {
  it("mints ids, applies defaults and resolves aliases into a loggable event", () => {
    const event = prepare([
      createUser("ada"),
      op({
        op: {
          case: "createNode",
          value: {
            typeId: PROJECT,
            alias: "web",
            fields: {
              1: ref("0190a6d2-0000-7000-8000-000000000001"),
              2: str("WEB"),
              3: str("Website"),
            },
          },
        },
      }),
      op({
        op: {
          case: "createNode",
          value: {
            typeId: TASK,
            alias: "t",
            fields: { 1: ref("$web"), 2: int(1n), 3: str("Ship it") },
          },
        },
      }),
      op({
        op: {
          case: "createEdge",
          value: {
            edgeTypeId: ASSIGNED_TO,
            fromId: "$t",
            toId: "$ada",
            props: { 1: ts(1_700_000_100n) },
          },
        },
      }),
    ]);
    expect(event.tenant).toBe("acme");
    expect(event.actor).toBe("user:ada");
    expect(event.idempotencyKey).toBe("k1");
    expect(event.schemaVersion).toBe(3);
    expect(event.ingressTime?.seconds).toBe(BigInt(NOW / 1000));
    expect(event.body.case).toBe("plan");
    const ops = event.body.case === "plan" ? event.body.value.operations : [];
    const ids = ops.map((o) => (o.op.case === "createNode" ? o.op.value.id : ""));
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids.slice(0, 3)).size).toBe(3);
    const task = ops[2]?.op.case === "createNode" ? ops[2].op.value : undefined;
    // `$web` became the project's minted id; defaults filled in: status todo (1), priority medium (2).
    expect(task?.fields[1]?.kind).toEqual({ case: "refValue", value: ids[1] });
    expect(task?.fields[5]?.kind).toEqual({ case: "enumValue", value: 1 });
    expect(task?.fields[6]?.kind).toEqual({ case: "enumValue", value: 2 });
    const user = ops[0]?.op.case === "createNode" ? ops[0].op.value : undefined;
    expect(user?.fields[4]?.kind).toEqual({ case: "stringValue", value: "UTC" });
    expect(user?.fields[7]?.kind).toEqual({ case: "boolValue", value: true });
    const edge = ops[3]?.op.case === "createEdge" ? ops[3].op.value : undefined;
    expect([edge?.fromId, edge?.toId]).toEqual([ids[2], ids[0]]);
    // The edge's `share` property defaults to 100.
    expect(edge?.props[2]?.kind).toEqual({ case: "intValue", value: 100n });
    // The event and its timestamp are literals: each is what `create` or a decode gives.
    expect(fromBinary(WalEventSchema, toBinary(WalEventSchema, event))).toEqual(event);
    expect(event).toEqual(create(WalEventSchema, { ...event }));
    expect(event.ingressTime).toEqual(timestampFromMs(NOW));
    for (const ms of [-1_500, -1, 0, 999, 1_700_000_000_123]) {
      expect(prepare([createUser("bo")], { now: ms }).ingressTime).toEqual(timestampFromMs(ms));
    }
  });

  it("keeps int64 values exact at both ends of the range", () => {
    const max = 2n ** 63n - 1n;
    const event = prepare([
      op({
        op: {
          case: "updateNode",
          value: {
            typeId: TASK,
            id: "0190a6d2-0000-7000-8000-000000000001",
            set: { 8: int(max), 2: int(-(2n ** 63n)) },
          },
        },
      }),
    ]);
    const update =
      event.body.case === "plan" && event.body.value.operations[0]?.op.case === "updateNode"
        ? event.body.value.operations[0].op.value
        : undefined;
    expect(update?.set[8]?.kind).toEqual({ case: "intValue", value: max });
    expect(update?.set[2]?.kind).toEqual({ case: "intValue", value: -(2n ** 63n) });
  });

  it("rejects a missing required field, naming the field", () => {
    const r = rejection(() =>
      prepare([
        op({ op: { case: "createNode", value: { typeId: USER, fields: { 1: str("a@b.c") } } } }),
      ]),
    );
    expect(r.message).toBe("Field User.display_name (id 2) is required; set it.");
    expect(r.detail).toMatchObject({
      operationIndex: 0,
      typeId: USER,
      fieldId: 2,
      reason: "INVALID_ARGUMENT",
      code: "invalid_argument",
    });
  });

  it("rejects an unknown type id, and says when it is an edge type", () => {
    expect(
      rejection(() => prepare([op({ op: { case: "createNode", value: { typeId: 99 } } })])).message,
    ).toBe("Operation 0 names node type id 99, which the schema does not define.");
    expect(
      rejection(() => prepare([op({ op: { case: "createNode", value: { typeId: ASSIGNED_TO } } })]))
        .message,
    ).toBe(
      "Operation 0 names node type id 101, which the schema does not define (101 is an edge type; use create_edge/delete_edge).",
    );
  });

  it("rejects an unknown field id", () => {
    const r = rejection(() =>
      prepare([
        op({
          op: {
            case: "updateNode",
            value: {
              typeId: TASK,
              id: "0190a6d2-0000-7000-8000-000000000001",
              set: { 77: str("x") },
            },
          },
        }),
      ]),
    );
    expect(r.message).toBe("Task has no field with id 77.");
    expect(r.detail?.fieldId).toBe(77);
  });

  it("rejects a value of the wrong kind", () => {
    const r = rejection(() =>
      prepare([
        op({
          op: {
            case: "updateNode",
            value: {
              typeId: TASK,
              id: "0190a6d2-0000-7000-8000-000000000001",
              set: { 2: str("one") },
            },
          },
        }),
      ]),
    );
    expect(r.message).toBe("Field Task.number expects an int (int_value), got a string.");
  });

  it("names the field and its step when a created node's value is wrong, list elements too", () => {
    const createTask = (fields: Record<number, ReturnType<typeof str | typeof int | typeof ref>>) =>
      op({ op: { case: "createNode", value: { typeId: TASK, fields } } });
    const project = ref("0190a6d2-0000-7000-8000-000000000001");
    const scalar = rejection(() =>
      prepare([createUser(), createTask({ 1: project, 2: str("one"), 3: str("t") })]),
    );
    expect(scalar.message).toBe("Field Task.number expects an int (int_value), got a string.");
    expect(scalar.detail).toMatchObject({ operationIndex: 1, typeId: TASK, fieldId: 2 });
    const labels = {
      kind: {
        case: "listValue" as const,
        value: { values: [str("ok"), int(3n)] },
      },
    };
    const element = rejection(() =>
      prepare([
        createUser(),
        op({
          op: {
            case: "createNode",
            value: { typeId: TASK, fields: { 1: project, 2: int(1n), 3: str("t"), 9: labels } },
          },
        }),
      ]),
    );
    expect(element.message).toBe("Field Task.labels[1] expects a string, got an int.");
    expect(element.detail).toMatchObject({ operationIndex: 1, typeId: TASK, fieldId: 9 });
  });

  it("rejects an enum number the enum does not define", () => {
    const r = rejection(() =>
      prepare([
        op({
          op: {
            case: "updateNode",
            value: {
              typeId: TASK,
              id: "0190a6d2-0000-7000-8000-000000000001",
              set: { 5: { kind: { case: "enumValue", value: 9 } } },
            },
          },
        }),
      ]),
    );
    expect(r.message).toBe(
      "Field Task.status got enum number 9, which TaskStatus does not define; allowed: 1 (todo), 2 (in_progress), 3 (in_review), 4 (done), 5 (wont_do).",
    );
  });

  it("rejects clearing a required field", () => {
    const r = rejection(() =>
      prepare([
        op({
          op: {
            case: "updateNode",
            value: { typeId: TASK, id: "0190a6d2-0000-7000-8000-000000000001", clear: [3] },
          },
        }),
      ]),
    );
    expect(r.message).toBe("Field Task.title is required and cannot be cleared.");
  });

  it("rejects an alias used before it is defined, or of the wrong type", () => {
    expect(
      rejection(() =>
        prepare([
          op({
            op: {
              case: "createEdge",
              value: { edgeTypeId: ASSIGNED_TO, fromId: "$t", toId: "$u" },
            },
          }),
          createUser("u"),
        ]),
      ).message,
    ).toBe(
      "AssignedTo.from refers to '$t', but no earlier step of this plan creates a node with alias 't'.",
    );
    expect(
      rejection(() =>
        prepare([
          createUser("u"),
          op({
            op: {
              case: "createEdge",
              value: { edgeTypeId: ASSIGNED_TO, fromId: "$u", toId: "$u" },
            },
          }),
        ]),
      ).message,
    ).toBe("AssignedTo.from must refer to a Task, but '$u' is a User.");
  });

  it("rejects ids the client chose, malformed refs, sub-microsecond timestamps and empty plans", () => {
    expect(rejection(() => prepare([])).message).toBe(
      "The plan has no operations; add at least one.",
    );
    expect(
      rejection(() =>
        prepare([op({ op: { case: "createNode", value: { typeId: USER, id: "mine" } } })]),
      ).message,
    ).toBe("Operation 0 (create User) sets an id; leave it empty: the server mints ids.");
    expect(
      rejection(() =>
        prepare([op({ op: { case: "deleteNode", value: { typeId: TASK, id: "../etc/passwd" } } })]),
      ).message,
    ).toBe(
      "Task.id got '../etc/passwd', which is neither a node id (a lowercase UUID) nor a '$alias' of this plan.",
    );
    const tooFine = op({
      op: {
        case: "createNode",
        value: { typeId: USER, fields: { 1: str("a"), 2: str("b"), 3: str("c"), 6: ts(1n, 1) } },
      },
    });
    expect(rejection(() => prepare([tooFine])).message).toBe(
      "Field User.joined_at has sub-microsecond precision (nanos 1); timestamps are stored in microseconds, round to a multiple of 1000 nanos.",
    );
  });

  it("rejects plans over the operation limit", () => {
    const ops = Array.from({ length: 1_001 }, () => createUser());
    expect(rejection(() => prepare(ops)).message).toBe(
      "The plan has 1001 operations; the limit is 1000. Split it into several plans.",
    );
  });

  it("accepts create-if-absent only on a unique key it sets", () => {
    expect(
      rejection(() =>
        prepare([
          op({
            op: {
              case: "createNode",
              value: {
                typeId: USER,
                ifAbsentOn: [2],
                fields: { 1: str("a"), 2: str("b"), 3: str("c"), 6: ts(1n) },
              },
            },
          }),
        ]),
      ).message,
    ).toBe(
      "Operation 0 (create User) asks create-if-absent on fields [2], which are not a unique field or a composite unique of User.",
    );
    const ok = prepare([
      op({
        op: {
          case: "createNode",
          value: {
            typeId: USER,
            ifAbsentOn: [1],
            fields: { 1: str("a"), 2: str("b"), 3: str("c"), 6: ts(1n) },
          },
        },
      }),
    ]);
    expect(
      ok.body.case === "plan" &&
        ok.body.value.operations[0]?.op.case === "createNode" &&
        ok.body.value.operations[0].op.value.ifAbsentOn,
    ).toEqual([1]);
  });

  it("refuses a key, principal or group holding a lone surrogate, which the log would store as U+FFFD", () => {
    const base = {
      schema,
      schemaVersion: 3,
      tenant: "acme",
      actor: "user:ada",
      idempotencyKey: "k1",
      now: NOW,
    };
    const attempt = (ctx: Partial<Parameters<typeof preparePlan>[1]>) =>
      rejection(() => preparePlan([createUser()], { ...base, ...ctx })).message;
    expect(attempt({ idempotencyKey: "key-\ud800" })).toBe(
      "The idempotency key holds a lone UTF-16 surrogate (\\uD800 at index 4), which UTF-8 cannot store; send well-formed Unicode text (pair the surrogate or drop it).",
    );
    expect(attempt({ actor: "user:\udc00a" })).toBe(
      "The caller's principal holds a lone UTF-16 surrogate (\\uDC00 at index 5), which UTF-8 cannot store; send well-formed Unicode text (pair the surrogate or drop it).",
    );
    expect(attempt({ actorGroups: ["group:ok", "group:x\ud83d"] })).toBe(
      "The caller's group holds a lone UTF-16 surrogate (\\uD83D at index 7), which UTF-8 cannot store; send well-formed Unicode text (pair the surrogate or drop it).",
    );
    // Pairs are text like any other, and the caller's groups and flags reach the event.
    const event = preparePlan([createUser()], {
      ...base,
      idempotencyKey: "key-\ud83d\ude00",
      actorGroups: ["group:devs"],
      actorAdmin: true,
    });
    expect([event.idempotencyKey, event.actorGroups, event.actorAdmin, event.openAccess]).toEqual([
      "key-\ud83d\ude00",
      ["group:devs"],
      true,
      false,
    ]);
  });
});
