/**
 * How text is written into a full-text table and how a search term is spelled against
 * it. The tables use SQLite's `unicode61` tokenizer with `remove_diacritics 2`, which
 * folds case and diacritics (`Résumé` and `resume` are one token) but treats a run of
 * CJK characters without spaces as a single token, so `東京` would never be found
 * inside `東京都`. `ftsText` therefore puts a zero-width space (U+200B, which unicode61
 * already treats as a separator) around every CJK character: each becomes a token of
 * its own, and a CJK word in a query is searched as the phrase of its characters
 * (unigram indexing; see docs/search.md). Snippets are cut from this text, so readers
 * strip the separator again ({@link stripFtsSeparators}).
 *
 * The function is part of the store layout: changing it changes what is stored, and
 * needs a new `STORE_LAYOUT_VERSION` so that existing files are rebuilt from the log.
 */

/** The separator `ftsText` inserts; unicode61 reads it as whitespace. */
export const FTS_SEPARATOR = "\u200b";

/**
 * Han ideographs (with extensions and compatibility forms), kana, Hangul syllables and
 * jamo, bopomofo, and the CJK symbols block's iteration marks: the scripts written
 * without spaces between words.
 */
const CJK =
  /[\u1100-\u11ff\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f\u{20000}-\u{3134f}]/gu;

/** The text stored in a full-text column for a field value (and searched for a term). */
export function ftsText(value: string): string {
  CJK.lastIndex = 0;
  if (!CJK.test(value)) return value;
  CJK.lastIndex = 0;
  return value.replace(CJK, (c) => `${FTS_SEPARATOR}${c}${FTS_SEPARATOR}`);
}

/** A snippet of stored full-text content, as the user wrote it (separators removed). */
export function stripFtsSeparators(text: string): string {
  return text.includes(FTS_SEPARATOR) ? text.replaceAll(FTS_SEPARATOR, "") : text;
}
