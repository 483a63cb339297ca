/**
 * Tenant ids and the file each tenant's database lives in. A tenant id arrives in
 * every request and becomes part of a file path, so it is checked strictly:
 *
 * - at most {@link MAX_TENANT_ID_LENGTH} characters;
 * - after Unicode NFC normalization, only `[A-Za-z0-9][A-Za-z0-9._-]*`: ASCII letters
 *   and digits, then also `.`, `_` and `-`; no whitespace, control characters,
 *   slashes or backslashes;
 * - no `..` anywhere and no trailing `.` (Windows drops trailing dots from names);
 * - ids that differ from their NFKC form are rejected with their own message
 *   (fullwidth `ｔｅｎａｎｔ`, ligatures): they look like an ASCII id but are another one.
 *   Other lookalikes (Cyrillic `а` for Latin `a`) fall outside the allowed set.
 *
 * Case matters (`Acme` and `acme` are two tenants), but file systems on macOS and
 * Windows ignore it, so the file name encodes it: see {@link tenantFileName}.
 */

import { StoreError } from "./store-error.ts";

/** Longest accepted tenant id, in characters (all ASCII, so also bytes). */
export const MAX_TENANT_ID_LENGTH = 128;

const ALLOWED = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Returns the normalized tenant id, or throws a `StoreError` with code
 * `invalid-tenant` whose message says what is wrong with it.
 */
export function validateTenantId(id: string): string {
  // The common case, checked first because every request and every applied event
  // validates its tenant: an id of allowed ASCII characters only is its own NFC and
  // NFKC form, so the checks below would all pass.
  if (
    id.length <= MAX_TENANT_ID_LENGTH &&
    ALLOWED.test(id) &&
    !id.includes("..") &&
    !id.endsWith(".")
  ) {
    return id;
  }
  if (id.length === 0) throw invalid("The tenant id is empty; set a tenant.");
  // Checked before normalizing, so a huge input costs no normalization work.
  if (id.length > MAX_TENANT_ID_LENGTH * 4) throw tooLong(id.length);
  const nfc = id.normalize("NFC");
  if (nfc.length > MAX_TENANT_ID_LENGTH) throw tooLong(nfc.length);
  if (nfc.normalize("NFKC") !== nfc) {
    throw invalid(
      `The tenant id ${show(nfc)} contains compatibility characters (such as fullwidth letters) that look like other characters; use ASCII letters, digits, '.', '_' and '-'.`,
    );
  }
  const bad = [...nfc].find((ch) => !/[A-Za-z0-9._-]/.test(ch));
  if (bad !== undefined) {
    throw invalid(
      `The tenant id ${show(nfc)} contains ${describeChar(bad)}; use ASCII letters, digits, '.', '_' and '-'.`,
    );
  }
  if (!ALLOWED.test(nfc)) {
    throw invalid(`The tenant id ${show(nfc)} must start with an ASCII letter or digit.`);
  }
  if (nfc.includes("..")) throw invalid(`The tenant id ${show(nfc)} contains '..'.`);
  if (nfc.endsWith(".")) throw invalid(`The tenant id ${show(nfc)} ends with '.'.`);
  return nfc;
}

/**
 * The database file name of a validated tenant id. Lowercase letters, digits, `.` and
 * `-` stay; an uppercase letter becomes `_` plus its lowercase form and `_` becomes
 * `__`. The mapping is injective and its output has no uppercase letters, so two ids
 * that differ only by case get two files even on a case-insensitive file system. The
 * `t-` prefix keeps names such as `con` or `nul` clear of Windows device names, and
 * the suffix is `.sqlite`.
 */
export function tenantFileName(validTenantId: string): string {
  let out = "t-";
  for (const ch of validTenantId) {
    if (ch === "_") out += "__";
    else if (ch >= "A" && ch <= "Z") out += `_${ch.toLowerCase()}`;
    else out += ch;
  }
  return `${out}.sqlite`;
}

/** The tenant id a file name stands for, or `undefined` if it is not a tenant file. */
export function tenantIdFromFileName(fileName: string): string | undefined {
  const m = /^t-(.+)\.sqlite$/.exec(fileName);
  if (!m) return undefined;
  const body = m[1]!;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== "_") {
      out += ch;
      continue;
    }
    const next = body[++i];
    if (next === "_") out += "_";
    else if (next !== undefined && next >= "a" && next <= "z") out += next.toUpperCase();
    else return undefined;
  }
  try {
    return tenantFileName(validateTenantId(out)) === fileName ? out : undefined;
  } catch {
    return undefined;
  }
}

function invalid(message: string): StoreError {
  return new StoreError("invalid-tenant", message);
}

function tooLong(length: number): StoreError {
  return invalid(
    `The tenant id is ${length} characters long; the limit is ${MAX_TENANT_ID_LENGTH}.`,
  );
}

/** Quotes an id for a message, escaping anything unprintable and eliding the middle of long ones. */
function show(id: string): string {
  const text = id.length > 40 ? `${id.slice(0, 20)}…${id.slice(-10)}` : id;
  return JSON.stringify(text);
}

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  if (ch === "/" || ch === "\\") return `a path separator '${ch}'`;
  if (/\s/.test(ch)) return `whitespace (${hex})`;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return `a control character (${hex})`;
  return `'${ch}' (${hex})`;
}

/** Whether `key` is a valid tenant id (log keys that are not, such as schema changes, say no). */
export function isTenantId(key: string): boolean {
  try {
    validateTenantId(key);
    return true;
  } catch {
    return false;
  }
}
