/**
 * A deterministic text dump of a tenant database: its schema objects and every row of
 * every table, sorted. Two databases with equal dumps hold the same state, which is
 * how tests prove that replaying the log into an empty data dir reproduces a tenant
 * byte for byte (DESIGN.md contract 8). FTS5 shadow tables are left out (their
 * segment layout is an implementation detail); the full-text tables' own rows are in.
 * So is `derived_from`, the identity of the log the file came from: provenance, not state.
 */

import Database from "better-sqlite3";
import type { TenantDb } from "./tenant-db.ts";

const FTS_SHADOW = /^fts_n[0-9]+_/;

/** Dumps the database at `target` (a file path, opened read-only, or an open handle). */
export function canonicalDump(target: string | TenantDb): string {
  if (typeof target !== "string") return dump(target.db);
  const db = new Database(target, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    return dump(db);
  } finally {
    db.close();
  }
}

function dump(db: Database.Database): string {
  const lines: string[] = [`user_version ${String(db.pragma("user_version", { simple: true }))}`];
  const objects = (
    db
      .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
      .safeIntegers(true)
      .all() as {
      type: string;
      name: string;
      sql: string | null;
    }[]
  ).filter(
    (o) => !o.name.startsWith("sqlite_") && !FTS_SHADOW.test(o.name) && o.name !== "derived_from",
  );
  for (const o of objects) lines.push(`${o.type} ${o.name}: ${o.sql ?? ""}`);
  for (const o of objects) {
    if (o.type !== "table") continue;
    const virtual = o.sql?.startsWith("CREATE VIRTUAL TABLE") ?? false;
    const cols = (db.pragma(`table_info(${quoteIdent(o.name)})`) as { name: string }[]).map(
      (c) => c.name,
    );
    const select = virtual ? ["rowid", ...cols] : cols;
    lines.push(`rows ${o.name} (${select.join(", ")})`);
    const order = select.map((_, i) => String(i + 1)).join(", ");
    const stmt = db
      .prepare(
        `SELECT ${select.map(quoteIdent).join(", ")} FROM ${quoteIdent(o.name)} ORDER BY ${order}`,
      )
      .safeIntegers(true)
      .raw(true);
    for (const row of stmt.iterate() as Iterable<unknown[]>)
      lines.push(row.map(render).join(" | "));
  }
  return `${lines.join("\n")}\n`;
}

function render(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return `real:${String(v)}`;
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `x'${Buffer.from(v).toString("hex")}'`;
  return String(v);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
