/**
 * A restore's syncs. Until its last step the data dir holds `restore-unfinished`
 * (server/data-dir.ts): a server refuses it, and a restore cut short, by a crash or a
 * power loss, is run again from the start. So what a restore writes needs to be durable
 * only when it reports done, not as it goes: the restored log, `meta.sqlite`, the schema
 * files and the templates are written without syncs, and the files that stay are synced
 * here, at once (off the thread, each file before the directories that name it), before
 * the mark is removed. Each new tenant file is synced by its applier as it finishes
 * (`TenantDb.makeDurable`, restore-apply.ts), and the tenants dir after them.
 *
 * Must be called only once nothing writes the files any more (every store and log
 * closed): a sync covers what was written before it.
 */

import { existsSync, readdirSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

/** Syncs a file or a directory (its names) by path. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes durable what a restore of `dataDir` wrote without syncs, beyond the tenant files
 * its appliers synced: `meta.sqlite`, the schema files and the files in `also` (the
 * restored log), then the `schemas` and `tenants` dirs and the data dir itself.
 */
export async function syncRestoredDataDir(dataDir: string, also: readonly string[]): Promise<void> {
  const schemas = join(dataDir, "schemas");
  const files = [...also];
  for (const name of ["meta.sqlite", "meta.sqlite-wal"]) {
    const path = join(dataDir, name);
    if (existsSync(path)) files.push(path);
  }
  if (existsSync(schemas)) for (const name of readdirSync(schemas)) files.push(join(schemas, name));
  await Promise.all(files.map(syncPath));
  const dirs = [schemas, join(dataDir, "tenants"), dataDir].filter((dir) => existsSync(dir));
  await Promise.all(dirs.map(syncPath));
}
