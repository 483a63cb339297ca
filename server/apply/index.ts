/**
 * The applier: consumes the WAL and writes tenant databases, deterministically and
 * idempotently (DESIGN.md contracts 4, 6, 8).
 */

export {
  type AppliedEvent,
  Applier,
  type ApplierOptions,
  type ApplierStats,
  type ApplyFailure,
  DEFAULT_APPLY_BATCH,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_PARK_RETRY,
  type ParkedTenant,
  type ParkRetry,
  SCHEMA_LOG_KEY,
} from "./applier.ts";
export { applyFailure, isEnvironmentFault } from "./apply-failure.ts";
export { BulkLoad } from "./bulk-load.ts";
export { executePlan, type PlanContext } from "./plan-executor.ts";
export { PlanRejection, type RejectionCode, type RejectionReason } from "./plan-rejection.ts";
export { restoreLostSchemaFiles, schemaChangesInLog } from "./schema-changes.ts";
export {
  decodeExecutePlanRequestHere,
  decodeQueryNodesRequestHere,
  decodeWalEvent,
} from "./wal-event-decode.ts";
