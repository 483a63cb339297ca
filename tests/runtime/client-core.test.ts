import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type ExecutePlanRequest,
  type GetNodeRequest,
  GetNodeRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import {
  type ClientCoreOptions,
  EntDbClientCore,
  EntDbError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PlanBuilder,
  PositionTracker,
  PreconditionFailedError,
  UnavailableError,
  UniqueViolationError,
} from "../../runtime/v1.ts";
import { FakeEntDb, failure } from "./fake-entdb-service.ts";
import { TASK, testSchema, USER } from "./test-schema.ts";

/** A UUIDv7 (runtime/idempotency-key.ts): its time prefix makes one client's keys ascend. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const NO_DELAY = { initialDelayMs: 0, maxDelayMs: 0 } as const;

function setup(options: Partial<ClientCoreOptions> = {}, fake = new FakeEntDb()) {
  const core = new EntDbClientCore({
    transport: fake.transport,
    tenant: "acme",
    schema: testSchema,
    retry: NO_DELAY,
    ...options,
  });
  return { fake, core };
}

const str = (value: string) => create(ValueSchema, { kind: { case: "stringValue", value } });

function createUser(plan: PlanBuilder, email: string) {
  return plan.createNode(USER, "User", { 1: str(email) });
}

describe("plan builder", () => {
  it("gives created nodes aliases and sends handles as $alias refs", () => {
    const plan = new PlanBuilder();
    const user = createUser(plan, "ada@example.com");
    const task = plan.createNode(TASK, "Task", {
      1: str("Write docs"),
      4: create(ValueSchema, {
        kind: { case: "refValue", value: plan.resolveId(user, USER, "owner") },
      }),
    });
    plan.createEdge(100, { from: task, fromType: TASK }, { to: user, toType: USER }, {});
    plan.updateNode(TASK, task, { 1: str("Write more docs") }, [3], { version: 1n });
    plan.deleteEdge(100, { from: task, fromType: TASK }, { to: "node-9", toType: USER });
    expect([user.alias, task.alias]).toEqual(["$a1", "$a2"]);
    expect([user.operationIndex, task.operationIndex]).toEqual([0, 1]);
    expect(
      plan.operations.map((op) => toJson(OperationSchema, create(OperationSchema, op))),
    ).toEqual([
      {
        createNode: { typeId: 1, alias: "a1", fields: { "1": { stringValue: "ada@example.com" } } },
      },
      {
        createNode: {
          typeId: 2,
          alias: "a2",
          fields: { "1": { stringValue: "Write docs" }, "4": { refValue: "$a1" } },
        },
      },
      { createEdge: { edgeTypeId: 100, fromId: "$a2", toId: "$a1" } },
      {
        updateNode: {
          typeId: 2,
          id: "$a2",
          set: { "1": { stringValue: "Write more docs" } },
          clear: [3],
          precondition: { version: "1" },
        },
      },
      { deleteEdge: { edgeTypeId: 100, fromId: "$a2", toId: "node-9" } },
    ]);
  });

  it("refuses a handle from another plan or of the wrong type", () => {
    const first = new PlanBuilder();
    const second = new PlanBuilder();
    const user = createUser(first, "ada@example.com");
    expect(() => second.resolveId(user, USER, "the owner")).toThrow(
      new TypeError(
        "The owner is a handle ($a1) from another plan; a handle is only valid in the plan that created it.",
      ),
    );
    expect(() => first.resolveId(user, TASK, "the task")).toThrow(
      new TypeError("The task must be a node of type id 2; handle $a1 is a 'User'."),
    );
    expect(() => first.resolveId("", TASK, "the task")).toThrow(TypeError);
  });
});

describe("idempotency keys", () => {
  it("sets a fresh time-ordered key on every plan", async () => {
    const { fake, core } = setup();
    for (const email of ["a@x.io", "b@x.io"]) {
      const plan = new PlanBuilder();
      createUser(plan, email);
      await core.executePlan(plan.operations);
    }
    const keys = fake
      .callsOf("executePlan")
      .map((c) => (c.request as ExecutePlanRequest).idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(UUID);
    expect(keys[1]).toMatch(UUID);
    expect(keys[0]).not.toBe(keys[1]);
    // The millisecond prefix (the first 12 hex digits) never goes back.
    expect(keys[0]!.replace("-", "").slice(0, 12) <= keys[1]!.replace("-", "").slice(0, 12)).toBe(
      true,
    );
  });

  it("keeps the key across a retry after UNAVAILABLE", async () => {
    const { fake, core } = setup();
    fake.failNext("executePlan", new ConnectError("restarting", Code.Unavailable));
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const result = await core.executePlan(plan.operations);
    const calls = fake.callsOf("executePlan");
    expect(calls).toHaveLength(2);
    const [first, second] = calls.map((c) => (c.request as ExecutePlanRequest).idempotencyKey);
    expect(first).toMatch(UUID);
    expect(second).toBe(first);
    expect(result.results).toEqual([{ id: "node-1", created: true, version: 1n }]);
    expect(result.receipt).toMatchObject({ applied: true, replayed: false, idempotencyKey: first });
  });

  it("gets the first outcome back when the response to an applied plan was lost", async () => {
    const { fake, core } = setup();
    fake.dropResponses = 1;
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const result = await core.executePlan(plan.operations);
    expect(fake.callsOf("executePlan")).toHaveLength(2);
    expect(result.receipt.replayed).toBe(true);
    expect(result.results).toEqual([{ id: "node-1", created: true, version: 1n }]);
    expect(fake.stored("node-2")).toBeUndefined();
  });

  it("takes an empty key as none: a fresh key, kept across a retry, never '' (which the server logs anew at every attempt)", async () => {
    const { fake, core } = setup();
    fake.dropResponses = 1;
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const result = await core.executePlan(plan.operations, { idempotencyKey: "" });
    const [first, second] = fake
      .callsOf("executePlan")
      .map((c) => (c.request as ExecutePlanRequest).idempotencyKey);
    expect(first).toMatch(UUID);
    expect(second).toBe(first);
    expect(result.receipt.replayed).toBe(true);
  });

  it("refuses a key or a search query with a lone surrogate before sending anything", async () => {
    const { fake, core } = setup();
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    await expect(
      core.executePlan(plan.operations, { idempotencyKey: "import-\uDC00" }),
    ).rejects.toThrow(/^The idempotency key holds a lone UTF-16 surrogate/);
    await expect(core.search({ query: "caf\uD800" })).rejects.toThrow(
      /^The search query holds a lone UTF-16 surrogate/,
    );
    expect(fake.calls).toEqual([]);
  });

  it("uses a caller's key when given", async () => {
    const { fake, core } = setup();
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    await core.executePlan(plan.operations, { idempotencyKey: "import-42" });
    expect(fake.request("executePlan", 0).idempotencyKey).toBe("import-42");
  });

  it("gives up after the bounded number of attempts with UnavailableError", async () => {
    const { fake, core } = setup({ retry: { ...NO_DELAY, maxAttempts: 3 } });
    const down = () => new ConnectError("down", Code.Unavailable);
    fake.failNext("executePlan", down(), down(), down(), down());
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const err = await core.executePlan(plan.operations).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ code: "unavailable", message: "down" });
    expect(fake.callsOf("executePlan")).toHaveLength(3);
  });

  it("puts the write's key on its error, so the caller can send it again without applying it twice", async () => {
    const { fake, core } = setup({ retry: { ...NO_DELAY, maxAttempts: 2 } });
    const down = () => new ConnectError("down", Code.Unavailable);
    fake.failNext("executePlan", down(), down());
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const err = await core.executePlan(plan.operations).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    const key = fake.request("executePlan", 0).idempotencyKey;
    expect(key).toMatch(UUID);
    expect((err as EntDbError).idempotencyKey).toBe(key);
    // Sent again with that key, the plan is applied once.
    const again = await core.executePlan(plan.operations, { idempotencyKey: key });
    expect(again.receipt.idempotencyKey).toBe(key);
    expect([1, 2].map((i) => fake.request("executePlan", i).idempotencyKey)).toEqual([key, key]);
    expect(fake.callsOf("executePlan")).toHaveLength(3);
  });

  it("rejects a call aborted while it waits to retry with EntDbError canceled, a write's with its key", async () => {
    // The first attempt fails with UNAVAILABLE; the signal aborts during the 10 s backoff.
    const { fake, core } = setup({ retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 } });
    const down = () => new ConnectError("down", Code.Unavailable);
    fake.failNext("executePlan", down());
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const started = Date.now();
    const write = await core
      .executePlan(plan.operations, { signal: AbortSignal.timeout(50) })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(write).toBeInstanceOf(EntDbError);
    expect(write).toMatchObject({
      code: "canceled",
      message: "The operation was aborted due to timeout",
      idempotencyKey: fake.request("executePlan", 0).idempotencyKey,
    });
    expect(fake.callsOf("executePlan")).toHaveLength(1);

    fake.failNext("getNode", down());
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("the page was closed")), 50);
    const read = await core
      .getNode({ typeId: USER, id: "n-1" }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(read).toBeInstanceOf(EntDbError);
    expect(read).toMatchObject({ code: "canceled", message: "the page was closed" });
    expect((read as EntDbError).idempotencyKey).toBeUndefined();
  });

  it("puts the key on a rejected write's error, and none on a read's", async () => {
    const { fake, core } = setup();
    fake.failNext("executePlan", new ConnectError("bad", Code.InvalidArgument));
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const rejected = await core
      .executePlan(plan.operations, { idempotencyKey: "k-1" })
      .catch((e: unknown) => e);
    expect(rejected).toMatchObject({ code: "invalid_argument", idempotencyKey: "k-1" });
    fake.failNext("getNode", new ConnectError("down", Code.PermissionDenied));
    const read = await core.getNode({ typeId: USER, id: "n-1" }).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(PermissionDeniedError);
    expect((read as EntDbError).idempotencyKey).toBeUndefined();
  });

  it("puts the key on the errors of access and mailbox changes", async () => {
    // The fake serves neither: each answers UNIMPLEMENTED, an error of a write all the same.
    const { core } = setup();
    const group = await core.access
      .createGroup("eng", { idempotencyKey: "g-1" })
      .catch((e: unknown) => e);
    expect(group).toMatchObject({ code: "unimplemented", idempotencyKey: "g-1" });
    const mailbox = await core.mailbox.markRead("n-1").catch((e: unknown) => e);
    expect(mailbox).toBeInstanceOf(EntDbError);
    expect((mailbox as EntDbError).idempotencyKey).toMatch(UUID);
  });

  it("refuses a mailbox search naming a type the client does not know, or a lone surrogate, before calling", async () => {
    const { core } = setup();
    await expect(core.mailbox.search("budget", { types: ["tsk"] })).rejects.toThrow(
      "db.mailbox.search: 'tsk' is not a node type of this client; use one of user, task.",
    );
    await expect(core.mailbox.search("bud\uD800get")).rejects.toThrow("The search query");
    // The fake serves no Search: a call that reached it would be UNIMPLEMENTED instead.
    await expect(core.mailbox.search("budget")).rejects.toMatchObject({ code: "unimplemented" });
  });

  it("does not retry other errors", async () => {
    const { fake, core } = setup();
    fake.failNext("executePlan", new ConnectError("bad", Code.InvalidArgument));
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    await expect(core.executePlan(plan.operations)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(fake.callsOf("executePlan")).toHaveLength(1);
  });

  it("waits for the outcome by key when the server acknowledged before applying", async () => {
    const { fake, core } = setup();
    fake.unappliedResponses = 1;
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const result = await core.executePlan(plan.operations);
    expect(fake.calls.map((c) => c.method)).toEqual([
      "executePlan",
      "waitForPosition",
      "getReceipt",
    ]);
    expect(result.results).toEqual([{ id: "node-1", created: true, version: 1n }]);
    expect(result.receipt.applied).toBe(true);
  });

  it("puts the write's key on an error met while it waits for the outcome", async () => {
    const { fake, core } = setup({ retry: { ...NO_DELAY, maxAttempts: 2 } });
    const down = () => new ConnectError("restarting", Code.Unavailable);
    fake.unappliedResponses = 2;
    fake.failNext("waitForPosition", down(), down());
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const waiting = await core
      .executePlan(plan.operations, { idempotencyKey: "k-wait" })
      .catch((e: unknown) => e);
    expect(waiting).toBeInstanceOf(UnavailableError);
    expect(waiting).toMatchObject({ message: "restarting", idempotencyKey: "k-wait" });
    fake.failNext("getReceipt", down(), down());
    const looking = await core
      .executePlan(plan.operations, { idempotencyKey: "k-look" })
      .catch((e: unknown) => e);
    expect(looking).toBeInstanceOf(UnavailableError);
    expect(looking).toMatchObject({ message: "restarting", idempotencyKey: "k-look" });
    // A read of the outcome is still a read: its error names no key.
    fake.failNext("getReceipt", down(), down());
    const read = await core.getReceipt("k-look").catch((e: unknown) => e);
    expect((read as EntDbError).idempotencyKey).toBeUndefined();
  });
});

describe("read-your-writes", () => {
  async function write(core: EntDbClientCore): Promise<void> {
    const plan = new PlanBuilder();
    createUser(plan, `u${Math.random()}@x.io`);
    await core.executePlan(plan.operations);
  }

  it("sends no position before the first write, then the latest receipt's", async () => {
    const { fake, core } = setup();
    await core.getNode({ typeId: USER, id: "node-1" });
    await write(core);
    await write(core);
    await core.getNode({ typeId: USER, id: "node-1" });
    await core.getNodes({ typeId: USER, ids: ["node-1"] });
    const [before, after] = fake
      .callsOf("getNode")
      .map((c) => (c.request as GetNodeRequest).afterPosition);
    expect(before).toBeUndefined();
    expect(after).toMatchObject({ partition: 0, offset: 2n });
    expect(fake.request("getNodes", 0).afterPosition).toMatchObject({
      offset: 2n,
    });
  });

  it("can be turned off per client and per read", async () => {
    const off = setup({ readYourWrites: false });
    await write(off.core);
    await off.core.getNode({ typeId: USER, id: "node-1" });
    await off.core.getNode({ typeId: USER, id: "node-1" }, { readYourWrites: true });
    const positions = off.fake
      .callsOf("getNode")
      .map((c) => (c.request as GetNodeRequest).afterPosition);
    expect(positions[0]).toBeUndefined();
    expect(positions[1]).toMatchObject({ offset: 1n });

    const on = setup();
    await write(on.core);
    await on.core.getNode({ typeId: USER, id: "node-1" }, { readYourWrites: false });
    expect(on.fake.request("getNode", 0).afterPosition).toBeUndefined();
  });

  it("keeps the highest position per tenant and shares it between clients", async () => {
    const positions = new PositionTracker();
    positions.observe("acme", { partition: 0, offset: 5n });
    positions.observe("acme", { partition: 0, offset: 3n });
    positions.observe("other", { partition: 1, offset: 1n });
    expect(positions.get("acme")).toEqual({ partition: 0, offset: 5n });
    expect(positions.get("other")).toEqual({ partition: 1, offset: 1n });
    positions.observe("acme", { partition: 2, offset: 1n });
    expect(positions.get("acme")).toEqual({ partition: 2, offset: 1n });

    const { fake, core } = setup({ positions });
    await core.withTenant("other").getNode({ typeId: USER, id: "node-1" });
    const request = fake.request("getNode", 0);
    expect(toJson(GetNodeRequestSchema, request)).toEqual({
      tenant: "other",
      typeId: 1,
      id: "node-1",
      afterPosition: { partition: 1, offset: "1" },
    });
  });
});

describe("authentication", () => {
  it("sends the token as a bearer header on every call", async () => {
    const { fake, core } = setup({ token: "secret-1" });
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    await core.executePlan(plan.operations);
    await core.getNode({ typeId: USER, id: "node-1" });
    expect(fake.calls.map((c) => c.authorization)).toEqual(["Bearer secret-1", "Bearer secret-1"]);
  });

  it("asks a token function before every call", async () => {
    let n = 0;
    const { fake, core } = setup({ token: async () => `t${++n}` });
    await core.getNode({ typeId: USER, id: "node-1" });
    await core.getNode({ typeId: USER, id: "node-1" });
    expect(fake.calls.map((c) => c.authorization)).toEqual(["Bearer t1", "Bearer t2"]);
  });

  it("sends no header without a token", async () => {
    const { fake, core } = setup();
    await core.getNode({ typeId: USER, id: "node-1" });
    expect(fake.calls.map((c) => c.authorization)).toEqual([null]);
  });
});

describe("error mapping", () => {
  async function failingPlan(error: ConnectError): Promise<unknown> {
    const { fake, core } = setup({ retry: false });
    fake.failNext("executePlan", error);
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    return core.executePlan(plan.operations).catch((e: unknown) => e);
  }

  it("maps each Connect code to its class, keeping the message and the cause", async () => {
    const cases = [
      [Code.AlreadyExists, UniqueViolationError, "already_exists"],
      [Code.FailedPrecondition, PreconditionFailedError, "failed_precondition"],
      [Code.NotFound, NotFoundError, "not_found"],
      [Code.PermissionDenied, PermissionDeniedError, "permission_denied"],
      [Code.InvalidArgument, InvalidArgumentError, "invalid_argument"],
      [Code.Unavailable, UnavailableError, "unavailable"],
      [Code.Unauthenticated, EntDbError, "unauthenticated"],
      [Code.Internal, EntDbError, "internal"],
    ] as const;
    for (const [code, type, name] of cases) {
      const cause = new ConnectError(`failed with ${name}`, code);
      const err = await failingPlan(cause);
      expect(err).toBeInstanceOf(type);
      expect(err).toMatchObject({
        code: name,
        message: `failed with ${name}`,
        cause,
        failure: undefined,
      });
    }
  });

  it("names the field of a unique violation from the WriteFailure detail", async () => {
    const err = await failingPlan(
      failure(Code.AlreadyExists, "UNIQUE_VIOLATION", "taken", 0, USER, 1),
    );
    expect(err).toBeInstanceOf(UniqueViolationError);
    expect(err).toMatchObject({
      name: "UniqueViolationError",
      failure: {
        reason: "UNIQUE_VIOLATION",
        operationIndex: 0,
        typeId: 1,
        fieldId: 1,
        typeName: "User",
        fieldName: "email",
      },
    });
  });

  it("names the offending field of an invalid argument", async () => {
    const err = await failingPlan(
      failure(
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
        "Field Task.labels expects a list",
        0,
        TASK,
        5,
      ),
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({
      fieldId: 5,
      fieldName: "labels",
      message: "Field Task.labels expects a list",
    });
  });

  it("keeps the field id when the client does not know the field", async () => {
    const err = await failingPlan(
      failure(Code.InvalidArgument, "INVALID_ARGUMENT", "no field 77", 0, TASK, 77),
    );
    expect(err).toMatchObject({ fieldId: 77, fieldName: undefined, failure: { typeName: "Task" } });
  });

  it("reports a failed precondition from the applier", async () => {
    const { core } = setup();
    const plan = new PlanBuilder();
    createUser(plan, "ada@example.com");
    const { results } = await core.executePlan(plan.operations);
    const update = new PlanBuilder();
    update.updateNode(USER, results[0]?.id ?? "", { 1: str("b@x.io") }, [], { version: 7n });
    const err = await core.executePlan(update.operations).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(err).toMatchObject({
      message: "node 'node-1' is at version 1, not 7",
      failure: { reason: "PRECONDITION_FAILED", typeName: "User" },
    });
  });

  it("returns undefined for a missing node instead of throwing", async () => {
    const { core } = setup();
    await expect(core.getNode({ typeId: USER, id: "nope" })).resolves.toBeUndefined();
  });

  it("looks up a rejected plan's failure by its key, and the same error on a retry", async () => {
    const { fake, core } = setup({}, new FakeEntDb({ uniques: [{ typeId: USER, fieldId: 1 }] }));
    const first = new PlanBuilder();
    createUser(first, "ada@example.com");
    await core.executePlan(first.operations);
    const second = new PlanBuilder();
    createUser(second, "ada@example.com");
    const err = await core
      .executePlan(second.operations, { idempotencyKey: "k2" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UniqueViolationError);
    const retried = await core
      .executePlan(second.operations, { idempotencyKey: "k2" })
      .catch((e: unknown) => e);
    expect(retried).toMatchObject({ code: "already_exists", failure: { fieldName: "email" } });

    const lookup = await core.getReceipt("k2");
    expect(lookup?.failure).toBeInstanceOf(UniqueViolationError);
    expect(lookup?.failure).toMatchObject({
      message: "a node already has this value",
      failure: { reason: "UNIQUE_VIOLATION", typeName: "User", fieldName: "email" },
    });
    await expect(core.getReceipt("unknown-key")).resolves.toBeUndefined();
    expect(fake.callsOf("getReceipt")).toHaveLength(2);
  });
});
