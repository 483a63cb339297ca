/**
 * What a tenant file's full-text index holds beyond the canonical dump: per table its
 * content, document sizes and configuration rows, the totals bm25 ranks with (the
 * averages record), and every indexed term instance (term, row, column, position) as
 * `fts5vocab` reads it. The segment layout (which segments hold the terms) is left out:
 * it follows the applier's transactions, not the log (docs/durability.md, what
 * byte-identical covers). Opens the file read-only; close writers first.
 */

import Database from "better-sqlite3";

export function ftsState(path: string): Record<string, string[]> {
  const db = new Database(path, { readonly: true });
  const text = (rows: unknown[][]) =>
    rows.map((row) =>
      row.map((c) => (c instanceof Buffer ? c.toString("hex") : String(c))).join("|"),
    );
  try {
    const tables = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'fts_n*' AND name NOT GLOB 'fts_n*_*' ORDER BY name",
        )
        .all() as { name: string }[]
    ).map((r) => r.name);
    const out: Record<string, string[]> = {};
    for (const name of tables) {
      for (const shadow of ["content", "docsize", "config"])
        out[`${name}_${shadow}`] = text(
          db.prepare(`SELECT * FROM ${name}_${shadow} ORDER BY 1`).raw().all() as unknown[][],
        );
      out[`${name} averages`] = text(
        db.prepare(`SELECT block FROM ${name}_data WHERE id = 1`).raw().all() as unknown[][],
      );
      db.exec(`CREATE VIRTUAL TABLE temp.vocab_${name} USING fts5vocab(main, ${name}, instance)`);
      out[`${name} instances`] = text(
        db
          .prepare(`SELECT term, doc, col, offset FROM temp.vocab_${name} ORDER BY 1, 2, 3, 4`)
          .raw()
          .all() as unknown[][],
      );
    }
    return out;
  } finally {
    db.close();
  }
}
