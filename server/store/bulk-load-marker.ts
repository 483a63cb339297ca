/**
 * The table a tenant file holds exactly while a restore's bulk load has its non-unique
 * indexes and full-text tables dropped (server/apply/bulk-load.ts makes and drops it in the
 * same transactions as the indexes). The start-up check (derived-check.ts) rebuilds a
 * tenant whose file still has it from the log: such a file was left by a restore that was
 * killed part-way, and serving it would answer without those indexes.
 */
export const BULK_LOAD_UNFINISHED = "bulk_load_unfinished";
