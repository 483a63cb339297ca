/**
 * A template for new tenant files: a file made once by {@link TenantDb.open}, then copied
 * for each tenant a process creates in bulk (a restore), instead of running the layout's
 * DDL, its pragmas and its first transaction again for each (about five times the cost of
 * opening an existing file).
 *
 * A copy is the same database a fresh file is: the template is closed right after its
 * creation, before anything else runs on it, so it holds exactly what creating a file
 * writes (tables, indexes, `tenant_state`, `derived_from`, `user_version`), but in
 * rollback-journal mode (`journal_mode = DELETE` in its header, WAL in a fresh file's);
 * the copy is then opened as usual (the per-connection
 * pragmas, its journal in memory until it is made durable) and its `tenant_state` given
 * the tenant's id (`TenantOrigin.template`). What opening reads back (the state, the log identity, the schema objects and full-text
 * columns) is read from the first copy only and kept for the others, so a template must
 * not change once copied unless it is written again or removed here, which forgets it.
 * `tests/archive/tenant-template.test.ts` compares the two: `sqlite_master`, pragmas,
 * canonical dumps after the same events. A restore then puts its template in the bulk
 * load's state (`BulkLoad.prepareTemplate`, server/apply/bulk-load.ts), which is why a
 * copy is opened without the `IF NOT EXISTS` DDL an older file gets (`TenantDb.open`),
 * and makes from it one template per schema version its tenants start at, migrated to
 * that version as a bulk-loaded tenant's first event would migrate it
 * (`BulkLoad.prepareVersionTemplate`).
 *
 * Assumes the template is made with the same log identity as the store that copies it.
 */

import { rmSync } from "node:fs";
import { TenantDb } from "./tenant-db.ts";

/** The tenant id a template records until a copy is given its own. */
export const TEMPLATE_TENANT = "tenant-template";

/** Writes a template file at `path` for new tenant files derived from the log `logIdentity`. */
export function writeTenantTemplate(path: string, logIdentity: string | undefined): void {
  removeTenantTemplate(path);
  // Without syncs: a template is removed when its restore ends, and read only by it.
  const made = TenantDb.open(TEMPLATE_TENANT, path, true, { logIdentity, unsynced: true });
  // Out of WAL mode in its header: a copy is loaded in `journal_mode = MEMORY`, which it
  // then enters without writing its header (from WAL it would), and made durable in WAL.
  made?.db.pragma("journal_mode = DELETE");
  // Closed without `TenantDb.close`'s `PRAGMA optimize`: the copy is a file just created.
  made?.db.close();
}

/** Removes a template file (and what SQLite left beside it). */
export function removeTenantTemplate(path: string): void {
  // What its copies read back from it (TenantDb.open) no longer holds.
  TenantDb.forgetTemplate(path);
  for (const suffix of ["", "-wal", "-shm", "-journal"])
    rmSync(`${path}${suffix}`, { force: true });
}
