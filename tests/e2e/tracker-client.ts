/**
 * The tracker example's GENERATED typed client, for end-to-end tests: generates
 * `client.ts` with `generateClient` into a gitignored `.tmp-e2e-client-*` dir under the
 * repo (so its import of `runtime/v1.ts` resolves) and imports it. The generated file
 * does not exist when this project is type-checked, so the client is described here
 * by a structural type over the runtime's generic accessors; what runs is the
 * generated code.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generateClient } from "../../codegen/index.ts";
import type {
  ClientBase,
  ClientOptions,
  EdgeAccessor,
  EdgePlanAccessor,
  KeyedNodeAccessor,
  NodePlanAccessor,
  SearchableAccessor,
} from "../../runtime/v1.ts";
import { compileSchema } from "../../schema/compile.ts";

const root = join(import.meta.dirname, "..", "..");

/** A node as the generated client reads it: id, version, timestamps and fields by property name. */
export interface NodeRow {
  readonly id: string;
  readonly version: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly [field: string]: unknown;
}

/** An edge as the generated client reads it. */
export interface EdgeRow {
  readonly from: string;
  readonly to: string;
  readonly createdAt: Date;
  readonly [prop: string]: unknown;
}

type Fields = Readonly<Record<string, unknown>>;
type OrderBy = { readonly field: string; readonly direction?: "asc" | "desc" };
type Nodes = KeyedNodeAccessor<NodeRow, Fields, Fields, Fields, OrderBy, Fields> &
  SearchableAccessor<NodeRow, Fields, OrderBy>;
type Edges = EdgeAccessor<EdgeRow, Fields>;

/** The plan a tracker `atomic` callback receives. */
export interface TrackerPlan {
  readonly user: NodePlanAccessor<"User", Fields, Fields, NodeRow, Fields>;
  readonly team: NodePlanAccessor<"Team", Fields, Fields, NodeRow, Fields>;
  readonly project: NodePlanAccessor<"Project", Fields, Fields, NodeRow, Fields>;
  readonly task: NodePlanAccessor<"Task", Fields, Fields, NodeRow, Fields>;
  readonly assignedTo: EdgePlanAccessor<"Task", "User", Fields>;
  readonly blockedBy: EdgePlanAccessor<"Task", "Task", Fields>;
}

/** The generated tracker client, as far as the tests use it. */
export interface TrackerClient extends ClientBase<TrackerPlan> {
  readonly user: Nodes & {
    assignments(user: string | { readonly id: string }): ReturnType<Edges["inverse"]>;
  };
  readonly team: Nodes;
  readonly project: Nodes;
  readonly task: Nodes;
  readonly assignedTo: Edges;
  readonly blockedBy: Edges;
}

/** The generated module: its `createClient`, and a `dispose` removing the temp dir. */
export interface GeneratedTrackerClient {
  createClient(options: ClientOptions): TrackerClient;
  dispose(): void;
}

/** Generates the tracker client into a temp dir under the repo and imports it. */
export async function loadTrackerClient(): Promise<GeneratedTrackerClient> {
  const path = "examples/tracker/schema.entdb";
  const compiled = compileSchema({ path, text: readFileSync(join(root, path), "utf8") });
  if (!compiled.schema) throw new Error("the tracker example does not compile");
  const dir = mkdtempSync(join(root, ".tmp-e2e-client-"));
  const { content } = generateClient(compiled.schema, { runtimeImport: "../runtime/v1.ts" });
  writeFileSync(join(dir, "client.ts"), content);
  const mod = (await import(pathToFileURL(join(dir, "client.ts")).href)) as {
    createClient(options: ClientOptions): TrackerClient;
  };
  return {
    createClient: (options) => mod.createClient(options),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
