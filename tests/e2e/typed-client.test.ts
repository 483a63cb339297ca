/**
 * The generated tracker client against a real `entdb serve` over the network, once per
 * transport: Connect over HTTP/1.1, Connect over HTTP/2 and gRPC.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport, type NodeTransportOptions } from "../../runtime/node.ts";
import {
  type EntDbError,
  PreconditionFailedError,
  UniqueViolationError,
} from "../../runtime/v1.ts";
import { serverPerFile } from "./e2e-helpers.ts";
import {
  type GeneratedTrackerClient,
  loadTrackerClient,
  type TrackerClient,
} from "./tracker-client.ts";

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

const server = serverPerFile();
let generated: GeneratedTrackerClient;

beforeAll(async () => {
  generated = await loadTrackerClient();
});

afterAll(() => {
  generated?.dispose();
});

const transports: readonly [string, Omit<NodeTransportOptions, "baseUrl">][] = [
  ["connect-http1", { protocol: "connect", httpVersion: "1.1" }],
  ["connect-http2", { protocol: "connect", httpVersion: "2" }],
  ["grpc", { protocol: "grpc" }],
];

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

describe.each(transports)("generated tracker client over %s", (name, transport) => {
  let db: TrackerClient;
  let seeded: {
    team: string;
    project: string;
    ada: string;
    bob: string;
    tasks: string[];
  };

  beforeAll(async () => {
    db = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url, ...transport }),
      tenant: `typed-${name}`,
      retry: false,
    });
    seeded = await db.atomic((plan) => {
      const team = plan.team.create({ name: "Core", slug: "core" });
      const project = plan.project.create({ team, key: "WEB", name: "Website" });
      const ada = plan.user.create({
        email: "ada@example.com",
        displayName: "Ada",
        handle: "ada",
        joinedAt: new Date("2024-01-02T03:04:05.678Z"),
      });
      const bob = plan.user.create({
        email: "bob@example.com",
        displayName: "Bob",
        handle: "bob",
        joinedAt: new Date("2024-02-01T00:00:00Z"),
      });
      const tasks = [1, 2, 3, 4, 5, 6, 7].map((n) =>
        plan.task.create({
          project,
          number: n,
          title: `Task ${n}`,
          status: n % 2 === 0 ? "done" : "todo",
          labels: [`l${n}`],
        }),
      );
      plan.assignedTo.link(tasks[0]!, ada, {
        assignedAt: new Date("2024-03-01T10:00:00Z"),
        share: 60,
      });
      plan.assignedTo.link(tasks[0]!, bob, { assignedAt: new Date("2024-03-01T11:00:00Z") });
      plan.assignedTo.link(tasks[1]!, ada, { assignedAt: new Date("2024-03-02T10:00:00Z") });
      return { team, project, ada, bob, tasks };
    });
  }, 30_000);

  it("creates a whole graph atomically with handles as refs", async () => {
    expect(seeded.tasks).toHaveLength(7);
    const project = await db.project.get(seeded.project);
    expect(project).toMatchObject({
      id: seeded.project,
      team: seeded.team,
      key: "WEB",
      name: "Website",
      archived: false,
      version: 1n,
    });
    const task = await db.task.get(seeded.tasks[0]!);
    expect(task).toMatchObject({
      project: seeded.project,
      number: 1n,
      title: "Task 1",
      status: "todo",
      priority: "medium",
      labels: ["l1"],
      body: undefined,
    });
    const ada = await db.user.get(seeded.ada);
    expect(ada?.["joinedAt"]).toEqual(new Date("2024-01-02T03:04:05.678Z"));
    expect(ada?.["timeZone"]).toBe("UTC");
    expect(ada?.["active"]).toBe(true);
  });

  it("gets a node by a unique key and by a composite unique", async () => {
    expect((await db.user.getBy({ email: "bob@example.com" }))?.id).toBe(seeded.bob);
    expect((await db.user.getBy({ handle: "ada" }))?.id).toBe(seeded.ada);
    expect((await db.task.getBy({ project: seeded.project, number: 3 }))?.id).toBe(seeded.tasks[2]);
    expect(await db.user.getBy({ email: "nobody@example.com" })).toBeUndefined();
    expect(await db.task.get("00000000-0000-7000-8000-000000000000")).toBeUndefined();
  });

  it("queries with where, orderBy and limit, and pages through every result", async () => {
    const first = await db.task.query({
      where: { status: "todo", project: seeded.project },
      orderBy: { field: "number", direction: "desc" },
      limit: 3,
    });
    expect(first.items.map((t) => t["number"])).toEqual([7n, 5n, 3n]);
    expect(first.next).toBeDefined();
    const second = await db.task.query({
      where: { status: "todo", project: seeded.project },
      orderBy: { field: "number", direction: "desc" },
      limit: 3,
      after: first.next,
    });
    expect(second.items.map((t) => t["number"])).toEqual([1n]);
    expect(second.next).toBeUndefined();

    const seen: bigint[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await db.task.query({ orderBy: { field: "number" }, limit: 2, after });
      seen.push(...page.items.map((t) => t["number"] as bigint));
      after = page.next;
      pages++;
    } while (after !== undefined && pages < 20);
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(pages).toBe(4);

    const ranged = await db.task.query({
      where: { number: { gte: 3, lt: 6 }, labels: { contains: "l4" } },
    });
    expect(ranged.items.map((t) => t.id)).toEqual([seeded.tasks[3]]);
  });

  it("updates with the expected version and rejects a stale one", async () => {
    const id = seeded.tasks[4]!;
    const updated = await db.task.update(
      id,
      { title: "Renamed", body: "text" },
      { expectedVersion: 1n },
    );
    expect(updated.version).toBe(2n);
    const err = await rejection(db.task.update(id, { title: "Lost" }, { expectedVersion: 1n }));
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).code).toBe("failed_precondition");
    expect((err as PreconditionFailedError).failure?.reason).toBe("PRECONDITION_FAILED");
    const task = await db.task.get(id);
    expect(task).toMatchObject({ title: "Renamed", body: "text", version: 2n });
    await db.task.update(id, { body: null });
    expect((await db.task.get(id))?.["body"]).toBeUndefined();
  });

  it("deletes a node with its edges", async () => {
    const { task } = await db.atomic((plan) => {
      const task = plan.task.create({ project: seeded.project, number: 100, title: "Doomed" });
      plan.assignedTo.link(task, seeded.bob, { assignedAt: new Date("2024-05-01T00:00:00Z") });
      return { task };
    });
    expect((await db.assignedTo.list(task)).items.map((e) => e.to)).toEqual([seeded.bob]);
    await db.task.delete(task, { expectedVersion: 1n });
    expect(await db.task.get(task)).toBeUndefined();
    expect((await db.assignedTo.list(task)).items).toEqual([]);
    expect((await db.user.assignments(seeded.bob)).items.map((e) => e.from)).toEqual([
      seeded.tasks[0],
    ]);
  });

  it("lists edges with their properties, and their inverse", async () => {
    const out = await db.assignedTo.list(seeded.tasks[0]!, { withCount: true });
    expect(out.totalCount).toBe(2n);
    const byTo = new Map(out.items.map((e) => [e.to, e]));
    expect(byTo.get(seeded.ada)).toMatchObject({
      from: seeded.tasks[0],
      to: seeded.ada,
      assignedAt: new Date("2024-03-01T10:00:00Z"),
      share: 60n,
    });
    expect(byTo.get(seeded.bob)?.["share"]).toBe(100n);
    const inverse = await db.assignedTo.inverse(seeded.ada);
    expect(inverse.items.map((e) => e.from).sort()).toEqual(
      [seeded.tasks[0]!, seeded.tasks[1]!].sort(),
    );
    const viaInverseName = await db.user.assignments(seeded.ada);
    expect(viaInverseName.items.map((e) => e.from).sort()).toEqual(
      inverse.items.map((e) => e.from).sort(),
    );
  });

  it("round-trips int64 extremes without loss", async () => {
    const { id } = await db.task.create({
      project: seeded.project,
      number: MAX_INT64,
      title: "Big",
      estimateMinutes: MIN_INT64,
    });
    const task = await db.task.get(id);
    expect(task?.["number"]).toBe(MAX_INT64);
    expect(task?.["estimateMinutes"]).toBe(MIN_INT64);
    expect((await db.task.getBy({ project: seeded.project, number: MAX_INT64 }))?.id).toBe(id);
    const q = await db.task.query({ where: { number: { gt: MAX_INT64 - 1n } } });
    expect(q.items.map((t) => t.id)).toEqual([id]);
  });

  it("rejects a unique violation naming the field, and writes nothing", async () => {
    const err = await rejection(
      db.atomic((plan) => {
        plan.team.create({ name: "Other", slug: "other" });
        plan.user.create({
          email: "ada@example.com",
          displayName: "Ada 2",
          handle: "ada2",
          joinedAt: new Date("2024-01-01T00:00:00Z"),
        });
      }),
    );
    expect(err).toBeInstanceOf(UniqueViolationError);
    const failure = (err as UniqueViolationError).failure;
    expect(failure).toMatchObject({
      reason: "UNIQUE_VIOLATION",
      operationIndex: 1,
      typeId: 1,
      typeName: "User",
      fieldId: 1,
      fieldName: "email",
    });
    expect(await db.team.getBy({ slug: "other" })).toBeUndefined();
    expect(await db.user.getBy({ handle: "ada2" })).toBeUndefined();
  });

  it("rejects a ref to a node that does not exist with MISSING_REF", async () => {
    const missing = "0190a0a0-0000-7000-8000-000000000001";
    const err = await rejection(db.task.create({ project: missing, number: 500, title: "Orphan" }));
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as EntDbError).failure).toMatchObject({
      reason: "MISSING_REF",
      typeName: "Task",
      fieldName: "project",
    });
    const err2 = await rejection(
      db.assignedTo.link(seeded.tasks[0]!, missing, { assignedAt: new Date(0) }),
    );
    expect(err2).toBeInstanceOf(PreconditionFailedError);
    expect((err2 as EntDbError).failure?.reason).toBe("MISSING_REF");
    expect((await db.task.query({ where: { number: 500 } })).items).toEqual([]);
  });

  it("reads its own writes immediately", async () => {
    for (let i = 0; i < 5; i++) {
      const { id, version } = await db.task.create({
        project: seeded.project,
        number: 1000 + i,
        title: `ryw ${i}`,
      });
      expect(version).toBe(1n);
      expect((await db.task.get(id))?.["title"]).toBe(`ryw ${i}`);
      await db.task.update(id, { title: `ryw ${i}!` });
      expect((await db.task.get(id))?.["title"]).toBe(`ryw ${i}!`);
    }
  });
});
