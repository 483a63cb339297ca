/**
 * Snippets of search hits: FTS5's `snippet()` for the rows of a page only, one statement
 * per type on the page (an auxiliary function in the ranked statement would run for
 * every match).
 *
 * FTS5 puts marks around each match. They are made for each search (private-use
 * characters around 96 random bits), so stored text, which is user input, cannot forge
 * or break a highlight: a fixed mark, or the caller's own markers, could be written into
 * a field. The text between the marks is returned as stored (without the CJK
 * separators), or HTML-escaped when the request asks, and the caller's markers replace
 * the marks, so with `escape: html` a snippet is safe to put into a page as HTML.
 */

import { randomBytes } from "node:crypto";
import { ftsTableName, stripFtsSeparators } from "../../codegen/store-layout/index.ts";
import type { NodeRow } from "../store/row-codec.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import type { SearchRequest, SearchSnippet } from "./search-sql.ts";

/** The snippets of the page's rows: one statement per type on the page. */
export function snippetsOf(
  db: TenantDb,
  rows: readonly { readonly seq: bigint }[],
  nodes: ReadonlyMap<bigint, NodeRow>,
  match: string,
  req: SearchRequest,
): Map<bigint, SearchSnippet[]> {
  const out = new Map<bigint, SearchSnippet[]>();
  const byType = new Map<number, bigint[]>();
  for (const r of rows) {
    const t = Number(nodes.get(r.seq)!.type_id);
    const list = byType.get(t) ?? [];
    list.push(r.seq);
    byType.set(t, list);
  }
  const tokens = Math.min(Math.max(req.snippetTokens, 1), 64);
  const marks = snippetMarks();
  for (const [typeId, seqs] of byType) {
    const columns = db.ftsFields(typeId);
    if (!columns) continue;
    const fts = ftsTableName(typeId);
    const cols = columns
      .map((_, i) => `snippet(${fts}, ${i}, ?, ?, '…', ${tokens}) AS s${i}`)
      .join(", ");
    const sql = `SELECT rowid AS seq, ${cols} FROM ${fts} WHERE ${fts} MATCH ? AND rowid IN (${seqs.map(() => "?").join(", ")})`;
    const markParams = columns.flatMap(() => [marks.start, marks.end]);
    const found = db.stmt(sql).all(...markParams, match, ...seqs) as Record<string, unknown>[];
    for (const row of found) {
      const snippets: SearchSnippet[] = [];
      columns.forEach((fieldId, i) => {
        const text = row[`s${i}`];
        if (typeof text !== "string") return;
        const marked = markedSnippet(text, marks, req);
        if (marked !== undefined) snippets.push({ fieldId, text: marked });
      });
      out.set(row["seq"] as bigint, snippets);
    }
  }
  return out;
}

/** The marks FTS5 puts around matches in one search's snippets. */
interface SnippetMarks {
  readonly start: string;
  readonly end: string;
}

/**
 * Marks no stored text can forge: private-use characters around 96 random bits, new
 * for each search. Stored text is user input, so a fixed mark (or the caller's own
 * markers) could be written into a field to fake or break a highlight.
 */
function snippetMarks(): SnippetMarks {
  const nonce = randomBytes(12).toString("base64url");
  return { start: `\ue000${nonce}\ue001`, end: `\ue001${nonce}\ue000` };
}

/**
 * A snippet as returned: the stored text between the marks (without the CJK
 * separators, HTML-escaped if asked), the caller's markers in place of the marks;
 * undefined when the field did not match (no mark).
 */
function markedSnippet(text: string, marks: SnippetMarks, req: SearchRequest): string | undefined {
  if (!text.includes(marks.start)) return undefined;
  const plain = (part: string) => {
    const stripped = stripFtsSeparators(part);
    return req.escape === "html" ? escapeHtml(stripped) : stripped;
  };
  let out = "";
  for (const [i, opened] of text.split(marks.start).entries()) {
    if (i === 0) {
      out += plain(opened);
      continue;
    }
    const end = opened.indexOf(marks.end);
    const inside = end < 0 ? opened : opened.slice(0, end);
    const after = end < 0 ? "" : opened.slice(end + marks.end.length);
    out += `${req.highlight.start}${plain(inside)}${req.highlight.end}${plain(after)}`;
  }
  return out;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text as HTML character data or attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}
