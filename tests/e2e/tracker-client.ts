/**
 * The tracker example's GENERATED typed client (or another schema's), for end-to-end
 * tests: generates `client.ts` with `generateClient` into a gitignored `.tmp-e2e-client-*` dir under the
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
  SchemaMeta,
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

/** A generated module: its `createClient`, its `schema` constant, and a `dispose` removing the temp dir. */
export interface GeneratedClient<C> {
  createClient(options: ClientOptions): C;
  readonly schema: SchemaMeta;
  dispose(): void;
}

/** The generated tracker client. */
export type GeneratedTrackerClient = GeneratedClient<TrackerClient>;

/** Generates the tracker client into a temp dir under the repo and imports it. */
export function loadTrackerClient(): Promise<GeneratedTrackerClient> {
  return loadGeneratedClient<TrackerClient>("examples/tracker/schema.entdb");
}

/**
 * Generates the client of the schema at `path` (from the repo root) into a temp dir under
 * the repo and imports it; `C` describes it, as {@link TrackerClient} does the tracker's.
 */
export async function loadGeneratedClient<C>(path: string): Promise<GeneratedClient<C>> {
  const compiled = compileSchema({ path, text: readFileSync(join(root, path), "utf8") });
  if (!compiled.schema) throw new Error(`${path} does not compile`);
  const dir = mkdtempSync(join(root, ".tmp-e2e-client-"));
  const { content } = generateClient(compiled.schema, { runtimeImport: "../runtime/v1.ts" });
  writeFileSync(join(dir, "client.ts"), content);
  const mod = (await import(pathToFileURL(join(dir, "client.ts")).href)) as {
    createClient(options: ClientOptions): C;
    schema: SchemaMeta;
  };
  return {
    createClient: (options) => mod.createClient(options),
    schema: mod.schema,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
