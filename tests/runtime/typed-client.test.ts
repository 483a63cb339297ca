import { toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ExecutePlanRequestSchema,
  QueryNodesRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { createTypedClient } from "../../runtime/v1.ts";
import { FakeEntDb } from "./fake-entdb-service.ts";
import type { Plan, TaskWhere, TestClient } from "./test-client.ts";
import { testSchema } from "./test-schema.ts";

function asRecord(json: unknown): Record<string, unknown> {
  return typeof json === "object" && json !== null ? { ...json } : {};
}

function setup() {
  const fake = new FakeEntDb({ uniques: [{ typeId: 1, fieldId: 1 }] });
  const db = createTypedClient<TestClient>(testSchema, {
    transport: fake.transport,
    tenant: "acme",
    retry: { initialDelayMs: 0 },
  });
  return { fake, db };
}

const planJson = (fake: FakeEntDb, index = 0) =>
  toJson(ExecutePlanRequestSchema, fake.request("executePlan", index));

describe("node accessors", () => {
  it("creates with fields keyed by id and reads back typed values", async () => {
    const { fake, db } = setup();
    const user = await db.user.create({ email: "ada@example.com", karma: 2n ** 63n - 1n });
    const due = new Date("2024-05-06T07:08:09.010Z");
    const task = await db.task.create({
      title: "Ship",
      status: "doing",
      due,
      owner: user.id,
      labels: ["a", "b"],
      meta: { points: 3 },
      estimate: 1.5,
      done: false,
      watchers: [user.id],
    });
    expect(user).toMatchObject({ id: "node-1", version: 1n, receipt: { applied: true } });
    expect(planJson(fake, 1)).toMatchObject({
      tenant: "acme",
      operations: [
        {
          createNode: {
            typeId: 2,
            fields: {
              "1": { stringValue: "Ship" },
              "2": { enumValue: 2 },
              "3": { timestampValue: "2024-05-06T07:08:09.010Z" },
              "4": { refValue: "node-1" },
              "5": { listValue: { values: [{ stringValue: "a" }, { stringValue: "b" }] } },
              "6": { jsonValue: '{"points":3}' },
              "7": { floatValue: 1.5 },
              "8": { boolValue: false },
              "9": { listValue: { values: [{ refValue: "node-1" }] } },
            },
          },
        },
      ],
    });
    expect(await db.task.get(task.id)).toEqual({
      id: "node-2",
      version: 1n,
      createdAt: new Date("2024-01-01T00:00:00Z"),
      updatedAt: new Date("2024-01-02T00:00:00Z"),
      title: "Ship",
      status: "doing",
      due,
      owner: "node-1",
      labels: ["a", "b"],
      meta: { points: 3 },
      estimate: 1.5,
      done: false,
      watchers: ["node-1"],
    });
    expect(await db.user.get(user.id)).toMatchObject({
      email: "ada@example.com",
      karma: 2n ** 63n - 1n,
      avatar: undefined,
    });
  });

  it("rejects an unsafe int and an unknown field before sending anything", async () => {
    const { fake, db } = setup();
    await expect(db.user.create({ email: "a@x.io", karma: 2 ** 60 })).rejects.toThrow(RangeError);
    await expect(db.user.create({ email: "a@x.io", karma: 2 ** 60 })).rejects.toThrow(
      /^User\.karma got the number/,
    );
    const sneaky = { email: "a@x.io", nickname: "ada" };
    await expect(db.user.create(sneaky)).rejects.toThrow(
      new TypeError("User has no field 'nickname'; its fields are email, karma, avatar."),
    );
    expect(fake.calls).toEqual([]);
  });

  it("updates with set and clear, and checks the expected version", async () => {
    const { fake, db } = setup();
    const task = await db.task.create({ title: "A", due: new Date(0), labels: ["x"] });
    const updated = await db.task.update(
      task,
      { title: "B", due: null, labels: undefined },
      { expectedVersion: 1 },
    );
    expect(updated).toMatchObject({ id: "node-1", version: 2n });
    expect(planJson(fake, 1)).toMatchObject({
      operations: [
        {
          updateNode: {
            typeId: 2,
            id: "node-1",
            set: { "1": { stringValue: "B" } },
            clear: [3],
            precondition: { version: "1" },
          },
        },
      ],
    });
    await expect(
      db.task.update(task.id, { title: "C" }, { expectedVersion: 1n }),
    ).rejects.toMatchObject({
      name: "PreconditionFailedError",
      code: "failed_precondition",
    });
    expect(await db.task.get(task.id)).toMatchObject({ title: "B", due: undefined, labels: ["x"] });
  });

  it("deletes, and get/getMany report missing nodes as undefined", async () => {
    const { db } = setup();
    const a = await db.task.create({ title: "A" });
    const b = await db.task.create({ title: "B" });
    const receipt = await db.task.delete(a.id);
    expect(receipt.position).toEqual({ partition: 0, offset: 3n });
    expect(await db.task.get(a.id)).toBeUndefined();
    const many = await db.task.getMany([b.id, a.id, b.id]);
    expect(many.map((t) => t?.title)).toEqual(["B", undefined, "B"]);
  });

  it("encodes where, orderBy, limit and after, and pages with next", async () => {
    const { fake, db } = setup();
    for (const title of ["alpha", "beta", "alps"]) await db.task.create({ title, status: "todo" });
    const page = await db.task.query({
      where: { title: { prefix: "al", ne: "alpha" }, status: "todo", labels: undefined },
      orderBy: { field: "due", direction: "desc" },
      limit: 1,
    });
    expect(page.items.map((t) => t.title)).toEqual(["alps"]);
    expect(page.next).toBeUndefined();
    const request = fake.request("queryNodes", 0);
    expect(toJson(QueryNodesRequestSchema, request)).toEqual({
      tenant: "acme",
      typeId: 2,
      filters: [
        { fieldId: 1, op: "FILTER_OP_PREFIX", values: [{ stringValue: "al" }] },
        { fieldId: 1, op: "FILTER_OP_NE", values: [{ stringValue: "alpha" }] },
        { fieldId: 2, op: "FILTER_OP_EQ", values: [{ enumValue: 1 }] },
      ],
      orderBy: { fieldId: 3, descending: true },
      limit: 1,
      // Partition 0 is the proto default, so JSON leaves it out.
      afterPosition: { offset: "3" },
    });
    const first = await db.task.query({ limit: 2 });
    expect(first.items.map((t) => t.title)).toEqual(["alpha", "beta"]);
    expect(first.next).toBe("2");
    const second = await db.task.query({ limit: 2, after: first.next });
    expect(second.items.map((t) => t.title)).toEqual(["alps"]);
  });

  it("rejects a limit that is not a whole number of 0 or more before sending anything", async () => {
    const { fake, db } = setup();
    const task = await db.task.create({ title: "A" });
    const message = (got: string) =>
      `limit must be a whole number of 0 or more (0, or left out, asks for the server's default page size; more than the server's most gives its most); got ${got}.`;
    for (const [limit, got] of [
      [-1, "-1"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      [2 ** 32, "4294967296"],
    ] as const) {
      await expect(db.task.query({ limit })).rejects.toThrow(new RangeError(message(got)));
      await expect(db.assignedTo.list(task, { limit })).rejects.toThrow(
        new RangeError(message(got)),
      );
    }
    expect(fake.callsOf("queryNodes")).toEqual([]);
    expect(fake.callsOf("listEdges")).toEqual([]);
    await db.task.query({ limit: 0 });
    expect(fake.request("queryNodes", 0).limit).toBe(0);
  });

  it("encodes in, range and list operators and rejects operators a kind lacks", async () => {
    const { fake, db } = setup();
    const since = new Date("2024-01-01T00:00:00Z");
    await db.task.query({
      where: { status: { in: ["todo", "done"] }, due: { gte: since }, labels: { contains: "x" } },
    });
    const request = fake.request("queryNodes", 0);
    expect(asRecord(toJson(QueryNodesRequestSchema, request))["filters"]).toEqual([
      { fieldId: 2, op: "FILTER_OP_IN", values: [{ enumValue: 1 }, { enumValue: 3 }] },
      { fieldId: 3, op: "FILTER_OP_GTE", values: [{ timestampValue: "2024-01-01T00:00:00Z" }] },
      { fieldId: 5, op: "FILTER_OP_CONTAINS", values: [{ stringValue: "x" }] },
    ]);
    const wrong: TaskWhere = JSON.parse('{"status":{"lt":"todo"}}');
    await expect(db.task.query({ where: wrong })).rejects.toThrow(
      new TypeError("Task.status does not support 'lt'; its operators are eq, ne, in."),
    );
    const bareList: TaskWhere = JSON.parse('{"labels":"x"}');
    await expect(db.task.query({ where: bareList })).rejects.toThrow(
      new TypeError("Task.labels is a list; filter it with { contains: element }."),
    );
  });

  it("gets by a unique key and refuses a non-key", async () => {
    const { fake, db } = setup();
    await db.user.create({ email: "ada@example.com" });
    expect(await db.user.getBy({ email: "ada@example.com" })).toMatchObject({ id: "node-1" });
    expect(await db.user.getBy({ email: "nobody@example.com" })).toBeUndefined();
    const notKey = { karma: 1n } as unknown as { email: string };
    await expect(db.user.getBy(notKey)).rejects.toThrow(
      new TypeError("User.getBy needs { email }; got { karma }."),
    );
    expect(fake.callsOf("getNodeByKey")).toHaveLength(2);
  });

  it("maps a unique violation to UniqueViolationError naming the field", async () => {
    const { db } = setup();
    await db.user.create({ email: "ada@example.com" });
    await expect(db.user.create({ email: "ada@example.com" })).rejects.toMatchObject({
      name: "UniqueViolationError",
      failure: { typeName: "User", fieldName: "email" },
    });
  });
});

describe("edge accessors", () => {
  it("links, lists both ways (also by inverse name) and unlinks", async () => {
    const { fake, db } = setup();
    const user = await db.user.create({ email: "ada@example.com" });
    const task = await db.task.create({ title: "A" });
    await db.assignedTo.link(task, user, { role: "owner" });
    await db.assignedTo.link(task.id, user.id);
    expect(planJson(fake, 3)).toMatchObject({
      operations: [{ createEdge: { edgeTypeId: 100, fromId: "node-2", toId: "node-1" } }],
    });
    const out = await db.assignedTo.list(task, { withCount: true });
    expect(out).toEqual({
      items: [
        {
          from: "node-2",
          to: "node-1",
          createdAt: new Date("2024-01-01T00:00:00Z"),
          role: undefined,
        },
      ],
      next: undefined,
      totalCount: 1n,
    });
    expect((await db.assignedTo.inverse(user.id)).items).toHaveLength(1);
    expect((await db.user.assignments(user.id)).items.map((e) => e.from)).toEqual(["node-2"]);
    await db.assignedTo.unlink(task, user);
    expect((await db.assignedTo.list(task.id)).items).toEqual([]);
  });
});

describe("atomic plans", () => {
  it("sends one plan whose handles resolve to aliases, and returns the created ids", async () => {
    const { fake, db } = setup();
    const result = await db.atomic((plan) => {
      const user = plan.user.create({ email: "ada@example.com" });
      const tasks = [
        plan.task.create({ title: "A", owner: user, watchers: [user, "node-77"] }),
        plan.task.create({ title: "B" }),
      ];
      plan.assignedTo.link(tasks[0]!, user, { role: "owner" });
      plan.task.update(tasks[1]!, { done: true });
      return { user, tasks };
    });
    expect(result).toEqual({
      user: "node-1",
      tasks: ["node-2", "node-3"],
      receipt: expect.objectContaining({ applied: true, position: { partition: 0, offset: 1n } }),
    });
    expect(fake.callsOf("executePlan")).toHaveLength(1);
    expect(asRecord(planJson(fake))["operations"]).toEqual([
      {
        createNode: { typeId: 1, alias: "a1", fields: { "1": { stringValue: "ada@example.com" } } },
      },
      {
        createNode: {
          typeId: 2,
          alias: "a2",
          fields: {
            "1": { stringValue: "A" },
            "4": { refValue: "$a1" },
            "9": { listValue: { values: [{ refValue: "$a1" }, { refValue: "node-77" }] } },
          },
        },
      },
      { createNode: { typeId: 2, alias: "a3", fields: { "1": { stringValue: "B" } } } },
      {
        createEdge: {
          edgeTypeId: 100,
          fromId: "$a2",
          toId: "$a1",
          props: { "1": { stringValue: "owner" } },
        },
      },
      { updateNode: { typeId: 2, id: "$a3", set: { "8": { boolValue: true } } } },
    ]);
    expect(
      toJson(
        ValueSchema,
        fake.stored("node-2")?.[4] ?? { $typeName: "entdb.v1.Value", kind: { case: undefined } },
      ),
    ).toEqual({
      refValue: "node-1",
    });
  });

  it("returns just the receipt when the callback returns nothing", async () => {
    const { db } = setup();
    const result = await db.atomic((plan) => {
      plan.task.create({ title: "A" });
    });
    expect(Object.keys(result)).toEqual(["receipt"]);
  });

  it("refuses a handle outside its plan, and an empty plan", async () => {
    const { fake, db } = setup();
    let leaked: ReturnType<Plan["user"]["create"]> | undefined;
    await db.atomic((plan) => {
      leaked = plan.user.create({ email: "ada@example.com" });
    });
    await expect(
      db.atomic((plan) => {
        plan.task.create({ title: "A", owner: leaked });
      }),
    ).rejects.toThrow(
      new TypeError(
        "Task.owner is a handle ($a1) from another plan; a handle is only valid in the plan that created it.",
      ),
    );
    await expect(db.task.create({ title: "A", owner: leaked })).rejects.toThrow(
      new TypeError(
        "Task.owner is a plan handle ($a1); handles are only valid inside the db.atomic plan that created them.",
      ),
    );
    await expect(db.atomic(() => {})).rejects.toThrow(
      new TypeError("The atomic plan has no steps; add at least one write."),
    );
    expect(fake.callsOf("executePlan")).toHaveLength(1);
  });
});

describe("create-if-absent and field preconditions", () => {
  it("sends ifAbsentOn as field ids and reports created from the step result", async () => {
    const { fake, db } = setup();
    const user = await db.user.create({ email: "ada@example.com" }, { ifAbsentOn: ["email"] });
    expect(user).toMatchObject({ id: "node-1", version: 1n, created: true });
    expect(planJson(fake)).toMatchObject({
      operations: [{ createNode: { typeId: 1, ifAbsentOn: [1] } }],
    });
    await db.atomic((plan) => {
      plan.user.create({ email: "bob@example.com" }, { ifAbsentOn: ["email"] });
    });
    expect(planJson(fake, 1)).toMatchObject({
      operations: [{ createNode: { typeId: 1, ifAbsentOn: [1] } }],
    });
  });

  it("refuses ifAbsentOn fields that are not a unique key before sending anything", async () => {
    const { fake, db } = setup();
    // Untyped callers (the types allow only unique keys): the run-time check.
    const untyped: { create(input: object, options: object): Promise<unknown> } = db.task;
    await expect(untyped.create({ title: "t" }, { ifAbsentOn: ["title"] })).rejects.toThrow(
      new TypeError(
        "Task.create with ifAbsentOn needs a unique key, but the type has none; got { title }.",
      ),
    );
    const keyed: { create(input: object, options: object): Promise<unknown> } = db.user;
    await expect(keyed.create({ email: "a@x.io" }, { ifAbsentOn: ["karma"] })).rejects.toThrow(
      new TypeError("User.create with ifAbsentOn needs { email }; got { karma }."),
    );
    expect(fake.callsOf("executePlan")).toHaveLength(0);
  });

  it("sends expectedFields as field values, null as unset, with the version", async () => {
    const { fake, db } = setup();
    const owner = await db.user.create({ email: "ada@example.com" });
    const { id } = await db.task.create({ title: "Ship", status: "todo", owner: owner.id });
    await db.task.update(
      id,
      { title: "Shipped" },
      { expectedFields: { status: "todo", due: null, owner: owner.id }, expectedVersion: 1 },
    );
    expect(owner.id).toBe("node-1");
    expect(planJson(fake, 2)).toMatchObject({
      operations: [
        {
          updateNode: {
            precondition: {
              version: "1",
              fieldsEqual: {
                "2": { enumValue: 1 },
                "3": { nullValue: true },
                "4": { refValue: "node-1" },
              },
            },
          },
        },
      ],
    });
    await db.atomic((plan) => {
      plan.task.delete(id, { expectedFields: { title: "Shipped" } });
    });
    expect(planJson(fake, 3)).toMatchObject({
      operations: [
        { deleteNode: { precondition: { fieldsEqual: { "1": { stringValue: "Shipped" } } } } },
      ],
    });
  });
});
