/**
 * Create-if-absent (`ifAbsentOn`) and field preconditions (`expectedFields`) of the
 * generated tracker client against a real `entdb serve`: single writes and plan steps;
 * and what the server does with a plain-string id of the wrong node type.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../../runtime/node.ts";
import { PreconditionFailedError, UniqueViolationError } from "../../runtime/v1.ts";
import { serverPerFile } from "./e2e-helpers.ts";
import {
  type GeneratedTrackerClient,
  loadTrackerClient,
  type TrackerClient,
} from "./tracker-client.ts";

const server = serverPerFile();
let generated: GeneratedTrackerClient;
let db: TrackerClient;
let project: string;
let team: string;

const ada = {
  email: "ada@example.com",
  displayName: "Ada",
  handle: "ada",
  joinedAt: new Date("2024-01-01T00:00:00Z"),
};

beforeAll(async () => {
  generated = await loadTrackerClient();
  db = generated.createClient({
    transport: createNodeTransport({ baseUrl: server.url }),
    tenant: "conditional",
    retry: false,
  });
  ({ project, team } = await db.atomic((plan) => {
    const team = plan.team.create({ name: "Core", slug: "core" });
    return { team, project: plan.project.create({ team, key: "WEB", name: "Website" }) };
  }));
}, 30_000);

afterAll(() => {
  generated?.dispose();
});

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

describe("create-if-absent", () => {
  it("creates once, then resolves to the same node without writing", async () => {
    const first = await db.user.create(ada, { ifAbsentOn: ["email"] });
    expect(first).toMatchObject({ created: true, version: 1n });
    const second = await db.user.create(
      { ...ada, displayName: "Someone else" },
      { ifAbsentOn: ["email"] },
    );
    expect(second).toMatchObject({ id: first.id, created: false, version: 1n });
    expect(await db.user.get(first.id)).toMatchObject({ displayName: "Ada", version: 1n });
    expect((await db.user.query({ where: { email: "ada@example.com" } })).items).toHaveLength(1);
  });

  it("matches a composite unique given in any order", async () => {
    const input = { project, number: 1, title: "First" };
    const first = await db.task.create(input, { ifAbsentOn: ["project", "number"] });
    const second = await db.task.create(input, { ifAbsentOn: ["number", "project"] });
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ id: first.id, created: false });
  });

  it("reports created: true for a plain create", async () => {
    const plain = await db.task.create({ project, number: 2, title: "Second" });
    expect(plain).toMatchObject({ created: true, version: 1n });
  });

  it("resolves a plan's handle to the existing node", async () => {
    const existing = await db.user.getBy({ email: ada.email });
    const { user, task } = await db.atomic((plan) => {
      const user = plan.user.create(ada, { ifAbsentOn: ["email"] });
      const task = plan.task.create({ project, number: 3, title: "Third" });
      plan.assignedTo.link(task, user, { assignedAt: new Date("2024-02-01T00:00:00Z") });
      return { user, task };
    });
    expect(user).toBe(existing?.id);
    expect((await db.assignedTo.list(task)).items.map((e) => e.to)).toEqual([existing?.id]);
  });

  it("rejects fields that are not a unique key before sending anything", async () => {
    const err = await rejection(db.user.create(ada, { ifAbsentOn: ["displayName"] }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe(
      "User.create with ifAbsentOn needs { email } or { handle }; got { displayName }.",
    );
  });
});

describe("field preconditions", () => {
  it("updates when the fields have the expected values", async () => {
    const { id } = await db.task.create({ project, number: 10, title: "Check" });
    const updated = await db.task.update(
      id,
      { status: "in_progress" },
      { expectedFields: { status: "todo", number: 10, body: null } },
    );
    expect(updated.version).toBe(2n);
    expect(await db.task.get(id)).toMatchObject({ status: "in_progress", version: 2n });
  });

  it("rejects an update when a field differs, and writes nothing", async () => {
    const { id } = await db.task.create({ project, number: 11, title: "Stale" });
    const err = await rejection(
      db.task.update(id, { title: "Lost" }, { expectedFields: { status: "done" } }),
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).code).toBe("failed_precondition");
    expect((err as PreconditionFailedError).failure).toMatchObject({
      reason: "PRECONDITION_FAILED",
      operationIndex: 0,
      typeName: "Task",
      fieldId: 5,
      fieldName: "status",
    });
    expect((err as Error).message).toContain(
      `Field 5 of node ${JSON.stringify(id)} does not have the value the plan expected.`,
    );
    expect(await db.task.get(id)).toMatchObject({ title: "Stale", version: 1n });
  });

  it("expects an unset field with null", async () => {
    const { id } = await db.task.create({ project, number: 12, title: "Body", body: "text" });
    const err = await rejection(
      db.task.update(id, { title: "x" }, { expectedFields: { body: null } }),
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    await db.task.update(id, { body: null }, { expectedFields: { body: "text" } });
    expect(await db.task.get(id)).toMatchObject({ body: undefined, version: 2n });
  });

  it("rejects a delete when a field differs, and keeps the node", async () => {
    const { id } = await db.task.create({ project, number: 13, title: "Keep" });
    const err = await rejection(db.task.delete(id, { expectedFields: { title: "Other" } }));
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(await db.task.get(id)).toMatchObject({ title: "Keep" });
    await db.task.delete(id, { expectedFields: { title: "Keep" }, expectedVersion: 1n });
    expect(await db.task.get(id)).toBeUndefined();
  });

  it("rejects a whole plan when one step's precondition fails", async () => {
    const { id } = await db.task.create({ project, number: 14, title: "Plan" });
    const err = await rejection(
      db.atomic((plan) => {
        plan.task.create({ project, number: 15, title: "Never" });
        plan.task.update(id, { title: "Never" }, { expectedFields: { title: "Other" } });
      }),
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect(await db.task.getBy({ project, number: 15 })).toBeUndefined();
    expect(await db.task.get(id)).toMatchObject({ title: "Plan", version: 1n });
  });
});

describe("plain-string ids", () => {
  it("leaves a wrong node type in a plain string to the server, which refuses it", async () => {
    const { id: task } = await db.task.create({ project, number: 20, title: "Typed" });
    // A plain string compiles where a User is expected; the server checks the type.
    const err = await rejection(
      db.assignedTo.link(task, team, { assignedAt: new Date("2024-02-01T00:00:00Z") }),
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).failure?.reason).toBe("MISSING_REF");
    expect((await db.assignedTo.list(task)).items).toEqual([]);
  });
});

describe("concurrent writers (docs/client.md, Concurrent writes)", () => {
  /** 16 clients of their own, so the calls race over separate connections. */
  function racers(): TrackerClient[] {
    return Array.from({ length: 16 }, () =>
      generated.createClient({
        transport: createNodeTransport({ baseUrl: server.url }),
        tenant: "conditional",
        retry: false,
      }),
    );
  }

  it("lets exactly one of 16 updates from the same version win; the others change nothing", async () => {
    const task = await db.task.create({ project, number: 30, title: "Race" });
    const settled = await Promise.allSettled(
      racers().map((c, i) =>
        c.task.update(task.id, { title: `by ${i}` }, { expectedVersion: task.version }),
      ),
    );
    const won = settled.flatMap((s, i) => (s.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    for (const s of settled) {
      if (s.status === "rejected") expect(s.reason).toBeInstanceOf(PreconditionFailedError);
    }
    expect(await db.task.get(task.id)).toMatchObject({ title: `by ${won[0]}`, version: 2n });
  });

  it("applies every update without a version, the last logged winning", async () => {
    const task = await db.task.create({ project, number: 31, title: "Race" });
    const results = await Promise.all(
      racers().map((c, i) => c.task.update(task.id, { title: `by ${i}` })),
    );
    const versions = results.map((r) => r.version).sort((a, b) => (a < b ? -1 : 1));
    expect(versions).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i + 2)));
    const last = results.findIndex((r) => r.version === 17n);
    expect(await db.task.get(task.id)).toMatchObject({ title: `by ${last}`, version: 17n });
  });

  it("creates one node of 16 racing creates of a unique value; ifAbsentOn gives all of them its id", async () => {
    const email = (n: string) => ({ ...ada, email: `${n}@example.com`, handle: n });
    const plain = await Promise.allSettled(racers().map((c) => c.user.create(email("race"))));
    expect(plain.filter((s) => s.status === "fulfilled")).toHaveLength(1);
    for (const s of plain) {
      if (s.status === "rejected") expect(s.reason).toBeInstanceOf(UniqueViolationError);
    }
    const absent = await Promise.all(
      racers().map((c) => c.user.create(email("absent"), { ifAbsentOn: ["email"] })),
    );
    expect(new Set(absent.map((r) => r.id)).size).toBe(1);
    expect(absent.filter((r) => r.created)).toHaveLength(1);
  });
});
