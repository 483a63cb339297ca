/**
 * Applies one `WritePlan` to a tenant database, step by step, inside the caller's
 * savepoint. Either every step succeeds, or a step throws a {@link PlanRejection}
 * and the caller rolls the savepoint back, so a plan commits wholly or not at all.
 *
 * Determinism (DESIGN.md contract 6): everything read comes from the tenant's state
 * and the event (ids minted at ingress, timestamps from `ingress_time`, the actor);
 * nothing from the clock or the process. Checks run in a fixed order (fields by
 * ascending id), so the same state and event always give the same outcome.
 *
 * Decisions, in the order they are checked for each step:
 * - create_node: unknown type/field → invalid_argument; bad value → invalid_argument;
 *   missing required field → invalid_argument; `if_absent_on` match → resolves to the
 *   existing node (nothing written; later steps naming the minted id are redirected to
 *   it); id already taken → already_exists ID_EXISTS; ref to a missing node or a node
 *   of the wrong type → failed_precondition MISSING_REF; unique clash →
 *   already_exists UNIQUE_VIOLATION. Version starts at 1.
 * - update_node: no node of that type with that id → not_found; precondition (version,
 *   then fields_equal by field id) → failed_precondition PRECONDITION_FAILED; then the
 *   value, required, ref and unique checks above for the fields it changes. Version +1.
 * - delete_node: not_found, precondition; removes the node, its edges in both
 *   directions and its full-text row.
 * - create_edge: unknown edge type → invalid_argument; endpoint missing or of the wrong
 *   type → failed_precondition MISSING_REF; `unique_per_from` and an edge to another
 *   node exists → already_exists UNIQUE_PER_FROM; an existing (type, from, to) gets its
 *   props replaced (created_at kept, `created` false).
 * - delete_edge: removes the edge if present.
 *
 * Not decided here: ACL denials (no ACL layer yet). Defaults are applied at ingress,
 * so the log holds them; the applier writes what the event says.
 */

import { parseObjectName } from "../../codegen/store-layout/index.ts";
import type { OperationResult } from "../../generated/entdb/v1/plan_pb.js";
import type { WritePlan } from "../../generated/entdb/v1/wal_pb.js";
import { applyFailure, isEnvironmentFault } from "./apply-failure.ts";
import { createEdge, deleteEdge } from "./edge-ops.ts";
import { createNode, deleteNode, updateNode } from "./node-ops.ts";
import { PlanRejection } from "./plan-rejection.ts";
import { type PlanContext, PlanRun } from "./plan-run.ts";

export type { PlanContext } from "./plan-run.ts";

/**
 * Applies `plan`; returns one result per operation. Throws {@link PlanRejection} to
 * reject the plan: a decision, or a failure that is a property of the event and the
 * state (code `internal`, see apply-failure.ts). Anything else it throws is a fault of
 * the environment (I/O, a closed database) and must not be recorded as the outcome.
 */
export function executePlan(ctx: PlanContext, plan: WritePlan): OperationResult[] {
  const run = new PlanRun(ctx);
  const results: OperationResult[] = [];
  const operations = plan.operations;
  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index]!;
    run.index = index;
    const op = operation.op;
    try {
      ctx.checkOperation?.(run, operation);
      switch (op.case) {
        case "createNode":
          results.push(createNode(run, op.value));
          break;
        case "updateNode":
          results.push(updateNode(run, op.value));
          break;
        case "deleteNode":
          results.push(deleteNode(run, op.value));
          break;
        case "createEdge":
          results.push(createEdge(run, op.value));
          break;
        case "deleteEdge":
          results.push(deleteEdge(run, op.value));
          break;
        default:
          throw run.reject(
            "invalid_argument",
            "INVALID_VALUE",
            `Operation ${index} has no step set.`,
            {},
          );
      }
    } catch (err) {
      throw asRejection(run, err);
    }
  }
  return results;
}

/**
 * A unique index of a newer schema version than the event's may still refuse a row
 * the event's model allowed; SQLite names the index, and the name holds the ids. Any
 * other failure that is not the environment's becomes the plan's recorded failure.
 */
function asRejection(run: PlanRun, err: unknown): unknown {
  if (err instanceof PlanRejection) return err;
  if (err instanceof Error && "code" in err && err.code === "SQLITE_CONSTRAINT_UNIQUE") {
    const name = /index '([^']+)'/.exec(err.message)?.[1];
    const parsed = name === undefined ? undefined : parseObjectName(name);
    if (parsed?.kind === "unique") return run.uniqueViolation(parsed.typeId, parsed.fieldIds);
  }
  if (isEnvironmentFault(err, run.db.isOpen)) return err;
  return applyFailure(err, run.index);
}
