/**
 * JSON without float64 round trips (DESIGN.md contract 2: int64 values are lossless
 * end to end). Parsing keeps every number as its source text, via the reviver's
 * `context.source` (Node 22+), wrapped with `JSON.rawJSON`; `JSON.stringify` writes such
 * a value back verbatim. So `9223372036854775807` stays that integer instead of
 * becoming 9223372036854776000, and a stored payload re-serializes to the same bytes.
 * Numbers become JS numbers or bigints only at the edge, once the field's kind says
 * which (`stored-value-codec.ts`).
 */

/** A number kept as its JSON source text. */
export interface RawNumber {
  readonly rawJSON: string;
}

/** A parsed JSON value whose numbers are {@link RawNumber}s. */
export type JsonValue = null | boolean | string | RawNumber | readonly JsonValue[] | JsonObject;

/** A parsed JSON object. */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** The parts of `JSON` that TypeScript's lib does not describe yet (ES2025+). */
interface JsonWithRaw {
  rawJSON(text: string): RawNumber;
  isRawJSON(value: unknown): boolean;
}

const RAW = JSON as unknown as JsonWithRaw;

/**
 * Parses JSON text keeping numbers exact; throws a SyntaxError on invalid text.
 *
 * A reviver with `context.source` costs about twice a plain parse, and stored payloads are
 * almost always canonical: `JSON.stringify` of their plain parse gives the text back. When
 * it does, every number token in the text is exactly `String` of its parsed number (all
 * else being written back identically), so the raw numbers can be made from the parsed
 * ones with the same text as the reviver would give. Any other text (an integer beyond
 * 2^53, `1.0`, `1e2`, `-0`, reordered keys, whitespace) takes the reviver.
 */
export function parseLossless(text: string): JsonValue {
  const plain: unknown = JSON.parse(text);
  if (JSON.stringify(plain) === text) return rawNumbersIn(plain);
  return JSON.parse(text, reviveNumbers) as JsonValue;
}

/** `value` (a fresh plain parse, changed in place) with every number as a raw number. */
function rawNumbersIn(value: unknown): JsonValue {
  if (typeof value === "number") return RAW.rawJSON(String(value));
  if (typeof value !== "object" || value === null) return value as JsonValue;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = rawNumbersIn(value[i]);
    return value as JsonValue;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) object[key] = rawNumbersIn(object[key]);
  return object as JsonObject;
}

/** Serializes a value; raw numbers are written exactly as they were read. */
export function stringifyJson(value: JsonValue): string {
  return JSON.stringify(value);
}

/** A raw number from its JSON text (which must be a valid JSON number). */
export function rawNumber(text: string): RawNumber {
  return RAW.rawJSON(text);
}

/** Whether a parsed value is a number. */
export function isRawNumber(value: JsonValue | undefined): value is RawNumber {
  return typeof value === "object" && value !== null && RAW.isRawJSON(value);
}

/** Whether a raw number is an integer literal (no fraction, no exponent). */
export function isIntegerText(raw: RawNumber): boolean {
  return /^-?(0|[1-9][0-9]*)$/.test(raw.rawJSON);
}

function reviveNumbers(
  _key: string,
  value: unknown,
  context?: { readonly source?: string },
): unknown {
  if (typeof value === "number" && context?.source !== undefined)
    return RAW.rawJSON(context.source);
  return value;
}

/** A node payload or edge props: stored JSON values by field id. */
export type Payload = Map<number, JsonValue>;

/** Parses a stored payload (a JSON object keyed by field id). */
export function parsePayload(text: string): Payload {
  const parsed = parseLossless(text);
  const out: Payload = new Map();
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || isRawNumber(parsed))
    return out;
  for (const [key, v] of Object.entries(parsed as JsonObject)) out.set(Number(key), v);
  return out;
}

/**
 * The stored text of a payload: keys in ascending field id order, no whitespace, so
 * equal payloads are equal bytes (replay gives byte-identical databases).
 *
 * A payload whose keys were set in ascending order (a create sets them so) is written
 * key by key, each value as `JSON.stringify` writes it alone, which costs less than
 * building an object to stringify (docs/performance-log.md). Any other goes through one
 * `JSON.stringify` of an object keyed by the field ids: an object's integer keys (array
 * indices, as field ids are) come out in ascending order whatever order they were set
 * in, and each value is written as `JSON.stringify` writes it alone. The same bytes.
 */
export function serializePayload(payload: ReadonlyMap<number, JsonValue>): string {
  let out = "{";
  let prev = -1;
  for (const [k, v] of payload) {
    if (!(k > prev) || !isArrayIndex(k) || v === undefined) return serializeUnordered(payload);
    if (prev !== -1) out += ",";
    out += `"${k}":${JSON.stringify(v)}`;
    prev = k;
  }
  return `${out}}`;
}

/**
 * `text` (the fields of a stored payload so far, without braces) and one more field: with
 * the fields appended in ascending field id order, `{` + text + `}` is
 * {@link serializePayload}'s text of the same payload (`lossless-json.test.ts`).
 */
export function appendPayloadField(text: string, fieldId: number, value: JsonValue): string {
  return text === ""
    ? `"${fieldId}":${JSON.stringify(value)}`
    : `${text},"${fieldId}":${JSON.stringify(value)}`;
}

/** {@link serializePayload} of keys set in any order. */
function serializeUnordered(payload: ReadonlyMap<number, JsonValue>): string {
  const object: Record<number, JsonValue> = {};
  let indices = true;
  // forEach, not for…of: the entries' pairs were half the garbage again.
  payload.forEach((v, k) => {
    if (!isArrayIndex(k)) indices = false;
    object[k] = v;
  });
  return indices ? JSON.stringify(object) : serializeByKeys(payload);
}

/** Whether `k` is an array index, a key objects list first, in ascending order. */
function isArrayIndex(k: number): boolean {
  return Number.isInteger(k) && k >= 0 && k < 0xffff_ffff;
}

/** {@link serializePayload} for keys that are no array indices (no field id is one). */
function serializeByKeys(payload: ReadonlyMap<number, JsonValue>): string {
  const keys = [...payload.keys()].sort((a, b) => a - b);
  let out = "";
  for (const k of keys) out += `,"${k}":${stringifyJson(payload.get(k)!)}`;
  return `{${out.slice(1)}}`;
}
