/**
 * The sizes and shapes of values that ingress accepts (DESIGN.md contract 11: ingress
 * refuses whatever the store cannot take, so a logged event never stops its tenant).
 * Every limit here is checked before anything is logged; `docs/durability.md` lists
 * them in one table, and the poison tests try each at and just past its limit.
 *
 * Why the JSON depth limit is 32, not SQLite's 1,000. Two readers stop long before
 * SQLite does:
 * - A typed read (`Get<Type>`, `Query<Type>`) turns the stored JSON into a
 *   `google.protobuf.Value` with protobuf-es `fromJson`, which stops at 100 nested
 *   Values: 99 arrays or objects around a scalar, or 99 objects around `{}`. Such a node
 *   made every typed read that returned it answer INTERNAL.
 * - A protobuf binary decoder stops at 100 nested messages (protobuf-es `fromBinary`,
 *   and the C++, Java and Python defaults). A `google.protobuf.Value` takes two per
 *   JSON level (Value and ListValue or Struct), inside three more in a typed response
 *   (the response, the node or edge, its fields message): about 48 levels is the
 *   deepest such a client can read.
 * 32 stays clear of both. SQLite's JSON functions stop at 1,000 and parse every field
 * of a payload (the indexes read it), so one value deeper than that failed every later
 * write of its tenant.
 */

/** The limits on one value, in the units the messages name. */
export interface ValueLimits {
  /** Longest string value, in UTF-8 bytes. */
  readonly maxStringBytes: number;
  /** Longest bytes value. */
  readonly maxBytesLength: number;
  /** Longest `json` value, in UTF-8 bytes of its text. */
  readonly maxJsonBytes: number;
  /** Deepest nesting of arrays and objects in a `json` value (a scalar is depth 0). */
  readonly maxJsonDepth: number;
  /** Most elements of a list value. */
  readonly maxListLength: number;
}

/** The limits `entdb serve` applies. */
export const DEFAULT_VALUE_LIMITS: ValueLimits = {
  maxStringBytes: 65_536,
  maxBytesLength: 262_144,
  maxJsonBytes: 262_144,
  maxJsonDepth: 32,
  maxListLength: 10_000,
};

/** UTF-8 byte length of a string (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Where `text` holds a lone UTF-16 surrogate, or -1. UTF-8 cannot carry one: the log's
 * encoder writes U+FFFD in its place, so a value holding one would be stored as other
 * text than the caller sent (and a live apply and a replay could disagree). Requests
 * cannot bring one (binary protobuf decodes to well-formed strings, and protobuf-es
 * refuses a `"\ud800"` escape in JSON), so this guards callers that build values in
 * the process.
 */
export function loneSurrogateAt(text: string): number {
  return text.search(LONE_SURROGATE);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The nesting depth of JSON text, scanning brackets outside strings; stops counting
 * (and returns a number past `limit`) as soon as `limit` is exceeded, so a hostile value
 * costs no more than a look at its text. Assumes the text is valid JSON.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
