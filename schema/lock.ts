/**
 * The lock file (`schema.lock.json`): the canonical form of a schema plus its
 * fingerprint, committed next to the schema so `entdb check` can compare a change
 * against what is deployed without the old source. Writing is `lockFromSchema`;
 * reading back into a model (without spans or docs) is `modelFromLock`, which trusts
 * nothing: it checks the shape, the references (`lock-reader.ts`) and the fingerprint.
 */

import {
  canonicalJson,
  canonicalSchema,
  canonicalText,
  fingerprintOfCanonical,
  LOCK_VERSION,
} from "./fingerprint.ts";
import { LockFileError, readLock } from "./lock-reader.ts";
import type { Schema } from "./model.ts";

export { LockFileError, type LockFileErrorCode } from "./lock-reader.ts";

/**
 * Renders a schema as lock file text: canonical JSON (see `fingerprint.ts`) with
 * `"fingerprint": "sha256:<hex>"` inserted after the package. The fingerprint is the
 * hash of the same JSON without that key. Same schema, same bytes.
 */
export function lockFromSchema(schema: Schema): string {
  const { json, fingerprint } = canonicalText(schema);
  // The canonical JSON starts with the lock version and the package, one key a line, so
  // the fingerprint goes in as the line after theirs, as serializing an object with the
  // key in that place would print it, without printing megabytes a second time.
  const head = `{\n  "lockVersion": ${LOCK_VERSION},\n  "package": ${JSON.stringify(schema.package)},\n`;
  if (json.startsWith(head)) {
    return `${head}  "fingerprint": ${JSON.stringify(fingerprint)},\n${json.slice(head.length)}`;
  }
  const { lockVersion, package: pkg, ...rest } = canonicalSchema(schema);
  return canonicalJson({ lockVersion, package: pkg, fingerprint, ...rest });
}

/**
 * Parses lock file text back into a model (no spans, no docs). Throws a
 * {@link LockFileError} when the text is not a lock file of a supported version,
 * when it is inconsistent, or when its fingerprint does not match its content.
 */
export function modelFromLock(text: string, path: string): Schema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new LockFileError("LOCK_INVALID_JSON", path, `not valid JSON (${detail}).`, { cause });
  }
  const { schema, fingerprint } = readLock(json, path);
  // Recomputed from the model, so reformatting the file is fine; changing what it says is not.
  const actual = fingerprintOfCanonical(canonicalSchema(schema));
  if (actual !== fingerprint) {
    throw new LockFileError(
      "LOCK_FINGERPRINT_MISMATCH",
      path,
      `the content does not match its fingerprint (recorded ${fingerprint}, content ${actual}): the file was edited by hand. Regenerate it from the schema with 'entdb lock'.`,
    );
  }
  return schema;
}
