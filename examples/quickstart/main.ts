/**
 * The quickstart: the generated tracker client against a running `entdb serve`.
 * Start a server (`npm start` serves the tracker schema), then run
 * `npm run example`. `ENTDB_URL` (default `http://127.0.0.1:50051`) and `ENTDB_TENANT`
 * (default `demo`) say where; unique values carry a per-run suffix, so it can run again
 * and again against the same server.
 */

import { randomUUID } from "node:crypto";
import { createNodeTransport } from "entdb/runtime/node";
import { createClient } from "../tracker/generated/client.ts";

const baseUrl = process.env["ENTDB_URL"] ?? "http://127.0.0.1:50051";
const tenant = process.env["ENTDB_TENANT"] ?? "demo";
const token = process.env["ENTDB_TOKEN"];
const run = randomUUID().slice(0, 8);

const db = createClient({
  transport: createNodeTransport({ baseUrl }),
  tenant,
  ...(token === undefined ? {} : { token }),
});

// One plan: every node and edge commits together or not at all. Handles returned by
// `create` stand in for ids that the server mints when the plan is applied.
const joinedAt = new Date("2024-06-01T09:00:00Z");
const created = await db.atomic((plan) => {
  const team = plan.team.create({ name: "Launch", slug: `launch-${run}` });
  const project = plan.project.create({ team, key: `L${run}`, name: "Launch site" });
  const ada = plan.user.create({
    email: `ada-${run}@example.com`,
    displayName: "Ada",
    handle: `ada-${run}`,
    joinedAt,
  });
  const grace = plan.user.create({
    email: `grace-${run}@example.com`,
    displayName: "Grace",
    handle: `grace-${run}`,
    joinedAt,
  });
  const design = plan.task.create({ project, number: 1, title: "Design the page" });
  const build = plan.task.create({
    project,
    number: 2,
    title: "Build the page",
    status: "in_progress",
    labels: ["web"],
  });
  const assignedAt = new Date("2024-06-02T09:00:00Z");
  plan.assignedTo.link(design, ada, { assignedAt, share: 60 });
  plan.assignedTo.link(design, grace, { assignedAt, share: 40 });
  plan.assignedTo.link(build, grace, { assignedAt });
  plan.blockedBy.link(build, design, { note: "design first" });
  return { team, project, users: [ada, grace], tasks: [design, build] };
});
const [adaId, graceId] = created.users;
const [designId, buildId] = created.tasks;
if (
  adaId === undefined ||
  graceId === undefined ||
  designId === undefined ||
  buildId === undefined
) {
  throw new Error("the plan did not return the created ids");
}
console.log(
  `created team, project, ${created.users.length} users and ${created.tasks.length} tasks in one plan (log position ${String(created.receipt.position?.offset ?? "?")})`,
);

// Queries filter on indexed fields; `status` is an enum, read and written by name.
const inProgress = await db.task.query({
  where: { project: created.project, status: "in_progress" },
});
const todo = await db.task.query({ where: { project: created.project, status: "todo" } });
console.log(`tasks in progress: ${inProgress.items.length}, to do: ${todo.items.length}`);

const design = await db.task.get(designId);
if (design === undefined) throw new Error(`task ${designId} is missing`);
console.log(
  `read task #${design.number} "${design.title}": status ${design.status}, priority ${design.priority}, version ${design.version}`,
);

// The edge's inverse name gives "assignments" on users.
const graceWork = await db.user.assignments(graceId);
const designAssignees = await db.assignedTo.list(designId, { withCount: true });
// Edges list in id order, and ids are random: sort the shares for a stable line.
const shares = designAssignees.items.map((a) => Number(a.share ?? 0n)).sort((a, b) => b - a);
console.log(
  `Grace has ${graceWork.items.length} assignments; "${design.title}" has ${designAssignees.totalCount} assignees (shares ${shares.join("% + ")}%)`,
);

// An update names the version it read: a concurrent change makes it fail instead of
// being overwritten.
const updated = await db.task.update(
  designId,
  { status: "done" },
  { expectedVersion: design.version },
);
console.log(
  `updated task #${design.number} to done: version ${design.version} -> ${updated.version}`,
);
try {
  await db.task.update(designId, { title: "stale write" }, { expectedVersion: design.version });
  console.log("stale update was accepted (unexpected)");
} catch (error) {
  const name = error instanceof Error ? error.name : String(error);
  console.log(`stale update rejected: ${name}`);
}

// Create-if-absent: creating a user again with the same unique email resolves to the
// existing user instead of failing with a unique violation.
const again = await db.user.create(
  { email: `ada-${run}@example.com`, displayName: "Ada", handle: `ada-${run}`, joinedAt },
  { ifAbsentOn: ["email"] },
);
console.log(`create-if-absent on email: created ${again.created}, same user ${again.id === adaId}`);

// A field precondition: move the task on only while it is still in progress.
await db.task.update(
  buildId,
  { status: "in_review" },
  { expectedFields: { status: "in_progress" } },
);
try {
  await db.task.update(buildId, { status: "done" }, { expectedFields: { status: "in_progress" } });
  console.log("conditional update was accepted (unexpected)");
} catch (error) {
  const name = error instanceof Error ? error.name : String(error);
  console.log(`conditional update on a task no longer in progress rejected: ${name}`);
}

// Retrying a write with the same idempotency key replays the first outcome instead of
// writing twice (the client does this on its own after a lost response).
// A key names one plan: the retry sends the same comment, and a different one under the
// same key would be refused.
const key = `quickstart-comment-${run}`;
const comment = { task: designId, author: adaId, body: "Looks good", postedAt: new Date() };
const first = await db.comment.create(comment, { idempotencyKey: key });
const retry = await db.comment.create(comment, { idempotencyKey: key });
const comments = await db.comment.query({ where: { task: designId } });
console.log(
  `retried comment: same id ${first.id === retry.id}, replayed ${retry.receipt.replayed}, comments on task: ${comments.items.length}`,
);
console.log("done");
