/**
 * Schema registration: the server remembers every schema version it has served
 * (`<dataDir>/schemas/v<N>.lock.json`). At start it compares the schema it is given
 * with the last one it served, using the same rules as `entdb check`; a breaking
 * change is refused with the findings (nothing is written), a compatible change
 * becomes version N+1, an unchanged schema keeps its version.
 *
 * The version files are written atomically before the server serves the version,
 * and the caller logs a `SchemaChange` event for it, so a replay of the log into an
 * empty data dir learns every version from the log itself. The files are derived state
 * too: before registering, the server writes back any version the log records that the
 * directory lacks ({@link restoreSchemaFiles}), so a deleted file neither loses a
 * version nor lets its number be given to another schema.
 */

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Schema } from "../schema/index.ts";
import {
  checkCompat,
  type Finding,
  hasBreaking,
  lockFromSchema,
  modelFromLock,
  schemaFingerprint,
  writeFileAtomic,
} from "../schema/index.ts";
import type { ServedSchema } from "./engine.ts";

/** A breaking schema change, refused. `findings` says what and how to do it safely. */
export class SchemaRejectedError extends Error {
  override readonly name = "SchemaRejectedError";
  readonly code = "schema-breaking";
  readonly findings: readonly Finding[];
  constructor(message: string, findings: readonly Finding[]) {
    super(message);
    this.findings = findings;
  }
}

/** The outcome of registering a schema at start. */
export interface Registration {
  /** The version to serve now. */
  readonly current: ServedSchema;
  /** True when `current` is a new version (the caller logs a SchemaChange for it). */
  readonly isNew: boolean;
  /** Compatibility findings against the previous version (empty for the first). */
  readonly findings: readonly Finding[];
  /** Every registered version, including `current`. */
  readonly versions: ReadonlyMap<number, ServedSchema>;
}

const FILE = /^v(\d{6})\.lock\.json$/;

/** Registers `model` in `dataDir`; throws {@link SchemaRejectedError} on a breaking change. */
export async function registerSchema(
  dataDir: string,
  model: Schema,
  options: { readonly allow?: ReadonlySet<string> } = {},
): Promise<Registration> {
  const dir = join(dataDir, "schemas");
  mkdirSync(dir, { recursive: true });
  const versions = loadVersions(dir);
  const latest = [...versions.values()].at(-1);
  const fingerprint = schemaFingerprint(model);
  if (latest && latest.fingerprint === fingerprint) {
    return { current: latest, isNew: false, findings: [], versions };
  }
  const findings = latest ? checkCompat(latest.model, model) : [];
  if (hasBreaking(findings, options.allow)) {
    const breaking = findings.filter(
      (f) => f.category === "breaking" && !options.allow?.has(f.rule),
    );
    throw new SchemaRejectedError(
      `The schema is not compatible with version ${latest?.version} that this server served: ${breaking.length} breaking change(s). ` +
        "Fix them (see the findings) or run `entdb check` for details.",
      findings,
    );
  }
  const version = (latest?.version ?? 0) + 1;
  const lockJson = lockFromSchema(model);
  await writeFileAtomic(join(dir, versionFileName(version)), lockJson);
  const current: ServedSchema = { version, fingerprint, model, lockJson };
  const all = new Map(versions);
  all.set(version, current);
  return { current, isNew: true, findings, versions: all };
}

/**
 * Writes the version files `dir` lacks among `recorded` (versions the log holds, as
 * `meta.sqlite` or the log itself gives them); returns the versions written.
 */
export async function restoreSchemaFiles(
  dataDir: string,
  recorded: Iterable<{ readonly version: number; readonly lockJson: string }>,
): Promise<number[]> {
  const dir = join(dataDir, "schemas");
  mkdirSync(dir, { recursive: true });
  const have = new Set(readdirSync(dir));
  const written: number[] = [];
  for (const { version, lockJson } of recorded) {
    const name = versionFileName(version);
    if (have.has(name)) continue;
    await writeFileAtomic(join(dir, name), lockJson);
    written.push(version);
  }
  return written;
}

function versionFileName(version: number): string {
  return `v${String(version).padStart(6, "0")}.lock.json`;
}

/** Reads every registered version, in version order. */
export function loadVersions(dir: string): Map<number, ServedSchema> {
  const names = readdirSync(dir)
    .filter((n) => FILE.test(n))
    .sort();
  const versions = new Map<number, ServedSchema>();
  for (const name of names) {
    const version = Number(FILE.exec(name)?.[1]);
    const path = join(dir, name);
    const lockJson = readFileSync(path, "utf8");
    const model = modelFromLock(lockJson, path);
    versions.set(version, { version, fingerprint: schemaFingerprint(model), model, lockJson });
  }
  return versions;
}
