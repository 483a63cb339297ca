/**
 * The service contract: what the typed client sees of an EntDB service, written once and
 * run against a real `entdb serve` of test-schema.entdb through the generated client
 * (tests/e2e/service-contract.test.ts) and against the in-memory FakeEntDb the runtime
 * tests inject failures with (fake-contract.test.ts). The fake stands in for the server
 * only where a test needs a failure the real one cannot be made to give; a behaviour it
 * got wrong here would let those tests pass against a server that does not exist.
 *
 * Each test gets a client of its own state (a new tenant, or a new fake) from `connect`,
 * and asserts only what both must do: no ids, times or positions that only one mints.
 */

import { expect, it } from "vitest";
import type { TestClient } from "./test-client.ts";

const MAX_INT64 = 2n ** 63n - 1n;

/** Registers the contract's tests; `connect` gives each one a client with fresh state. */
export function serviceContract(connect: () => Promise<TestClient> | TestClient): void {
  it("reads back every field kind as written", async () => {
    const db = await connect();
    const avatar = new Uint8Array([0, 1, 254, 255]);
    const user = await db.user.create({ email: "ada@example.com", karma: MAX_INT64, avatar });
    expect(user).toMatchObject({ version: 1n, receipt: { applied: true } });
    const fields = {
      title: "Ship",
      status: "doing",
      due: new Date("2024-05-06T07:08:09.010Z"),
      owner: user.id,
      labels: ["a", "b"],
      meta: { points: 3, tags: ["x"], nested: { ok: true } },
      estimate: 1.5,
      done: false,
      watchers: [user.id],
    } as const;
    const task = await db.task.create(fields);
    expect(await db.task.get(task.id)).toEqual({
      id: task.id,
      version: 1n,
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
      ...fields,
    });
    expect(await db.user.get(user.id)).toMatchObject({
      id: user.id,
      email: "ada@example.com",
      karma: MAX_INT64,
      avatar,
    });
  });

  it("updates by set and clear; a stale expected version fails and changes nothing", async () => {
    const db = await connect();
    const task = await db.task.create({ title: "A", due: new Date(0), labels: ["x"] });
    const updated = await db.task.update(
      task,
      { title: "B", due: null, labels: undefined },
      { expectedVersion: 1 },
    );
    expect(updated).toMatchObject({ id: task.id, version: 2n });
    await expect(
      db.task.update(task.id, { title: "C" }, { expectedVersion: 1n }),
    ).rejects.toMatchObject({ name: "PreconditionFailedError", code: "failed_precondition" });
    expect(await db.task.get(task.id)).toMatchObject({
      version: 2n,
      title: "B",
      due: undefined,
      labels: ["x"],
    });
  });

  it("checks expected field values: equal ones pass, a different one fails", async () => {
    const db = await connect();
    const { id } = await db.task.create({ title: "Ship", status: "todo" });
    await db.task.update(
      id,
      { title: "Shipped" },
      { expectedFields: { status: "todo", due: null } },
    );
    await expect(
      db.task.update(id, { title: "Lost" }, { expectedFields: { status: "done" } }),
    ).rejects.toMatchObject({ name: "PreconditionFailedError", code: "failed_precondition" });
    expect(await db.task.get(id)).toMatchObject({ title: "Shipped", version: 2n });
  });

  it("deletes; get and getMany answer a missing node with undefined", async () => {
    const db = await connect();
    const a = await db.task.create({ title: "A" });
    const b = await db.task.create({ title: "B" });
    const receipt = await db.task.delete(a.id);
    expect(receipt.applied).toBe(true);
    expect(await db.task.get(a.id)).toBeUndefined();
    const many = await db.task.getMany([b.id, a.id, b.id]);
    expect(many.map((t) => t?.title)).toEqual(["B", undefined, "B"]);
  });

  it("filters, orders and pages a query to its end", async () => {
    const db = await connect();
    for (const [title, status] of [
      ["beta", "todo"],
      ["alpha", "todo"],
      ["gamma", "done"],
      ["alps", "todo"],
    ] as const)
      await db.task.create({ title, status });
    const prefixed = await db.task.query({
      where: { title: { prefix: "al" } },
      orderBy: { field: "title" },
    });
    expect(prefixed.items.map((t) => t.title)).toEqual(["alpha", "alps"]);
    const first = await db.task.query({
      where: { status: "todo" },
      orderBy: { field: "title", direction: "desc" },
      limit: 2,
    });
    expect(first.items.map((t) => t.title)).toEqual(["beta", "alps"]);
    expect(first.next).toBeDefined();
    const second = await db.task.query({
      where: { status: "todo" },
      orderBy: { field: "title", direction: "desc" },
      limit: 2,
      after: first.next,
    });
    expect(second.items.map((t) => t.title)).toEqual(["alpha"]);
    expect(second.next).toBeUndefined();
  });

  it("gets by a unique key, and refuses a second node with the same key", async () => {
    const db = await connect();
    const ada = await db.user.create({ email: "ada@example.com" });
    expect(await db.user.getBy({ email: "ada@example.com" })).toMatchObject({ id: ada.id });
    expect(await db.user.getBy({ email: "nobody@example.com" })).toBeUndefined();
    await expect(db.user.create({ email: "ada@example.com", karma: 1 })).rejects.toMatchObject({
      name: "UniqueViolationError",
      code: "already_exists",
      failure: { typeName: "User", fieldName: "email" },
    });
    expect(await db.user.getBy({ email: "ada@example.com" })).toMatchObject({
      id: ada.id,
      karma: undefined,
    });
  });

  it("create-if-absent answers the existing node, created false, and writes nothing", async () => {
    const db = await connect();
    const first = await db.user.create(
      { email: "ada@example.com", karma: 1 },
      { ifAbsentOn: ["email"] },
    );
    expect(first).toMatchObject({ created: true, version: 1n });
    const again = await db.user.create(
      { email: "ada@example.com", karma: 2 },
      { ifAbsentOn: ["email"] },
    );
    expect(again).toMatchObject({ id: first.id, created: false });
    expect(await db.user.get(first.id)).toMatchObject({ karma: 1n, version: 1n });
  });

  it("applies a write once per idempotency key, and refuses another write under it", async () => {
    const db = await connect();
    const once = await db.task.create({ title: "Once" }, { idempotencyKey: "contract-1" });
    const retried = await db.task.create({ title: "Once" }, { idempotencyKey: "contract-1" });
    expect(retried.id).toBe(once.id);
    expect((await db.task.query({ where: { title: "Once" } })).items).toHaveLength(1);
    await expect(
      db.task.create({ title: "Other" }, { idempotencyKey: "contract-1" }),
    ).rejects.toMatchObject({ code: "failed_precondition" });
    expect((await db.task.query({ where: { title: "Other" } })).items).toEqual([]);
  });

  it("links with properties, lists both ways and by the inverse name, and unlinks", async () => {
    const db = await connect();
    const user = await db.user.create({ email: "ada@example.com" });
    const task = await db.task.create({ title: "A" });
    await db.assignedTo.link(task, user, { role: "owner" });
    const out = await db.assignedTo.list(task, { withCount: true });
    expect(out).toEqual({
      items: [{ from: task.id, to: user.id, createdAt: expect.any(Date), role: "owner" }],
      next: undefined,
      totalCount: 1n,
    });
    expect((await db.assignedTo.inverse(user.id)).items.map((e) => e.from)).toEqual([task.id]);
    expect((await db.user.assignments(user)).items.map((e) => e.role)).toEqual(["owner"]);
    await db.assignedTo.unlink(task, user);
    expect((await db.assignedTo.list(task.id)).items).toEqual([]);
    expect((await db.user.assignments(user.id)).items).toEqual([]);
  });

  it("applies an atomic plan whole, its handles resolved to the ids it created", async () => {
    const db = await connect();
    const result = await db.atomic((plan) => {
      const user = plan.user.create({ email: "ada@example.com" });
      const task = plan.task.create({ title: "A", owner: user, watchers: [user] });
      plan.assignedTo.link(task, user, { role: "owner" });
      plan.task.update(task, { done: true });
      return { user, task };
    });
    expect(result.receipt.applied).toBe(true);
    expect(await db.task.get(result.task)).toMatchObject({
      owner: result.user,
      watchers: [result.user],
      done: true,
      version: 2n,
    });
    expect((await db.user.assignments(result.user)).items.map((e) => e.from)).toEqual([
      result.task,
    ]);
  });

  it("applies nothing of a plan one step of which fails", async () => {
    const db = await connect();
    await db.user.create({ email: "taken@example.com" });
    await expect(
      db.atomic((plan) => {
        plan.task.create({ title: "Orphan" });
        plan.user.create({ email: "taken@example.com" });
      }),
    ).rejects.toMatchObject({ name: "UniqueViolationError" });
    expect((await db.task.query({ where: { title: "Orphan" } })).items).toEqual([]);
  });
}
