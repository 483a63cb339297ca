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

import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Schema } from "../schema/served.ts";
import {
  checkCompat,
  type Finding,
  hasBreaking,
  lockFromSchema,
  modelFromLock,
  schemaFingerprint,
  writeFileAtomic,
} from "../schema/served.ts";
import type { ServedSchema } from "./engine.ts";

/** A breaking schema change, refused. `findings` says what and how to do it safely. */
export class SchemaRejectedError extends Error {
  override readonly name = "SchemaRejectedError";
  readonly code = "schema-breaking";
  readonly findings: readonly Finding[];
  /** The lock file of the version the schema was compared with, for `entdb check --against`. */
  readonly baseline: string | undefined;
  constructor(message: string, findings: readonly Finding[], baseline?: string) {
    super(message);
    this.findings = findings;
    this.baseline = baseline;
  }
}

/**
 * Who registered a version and when, kept beside its lock file
 * (`<dataDir>/schemas/v<N>.info.json`) for `entdb schema history`. Written with the
 * version, and written back from the version's `SchemaChange` event when lost.
 */
export interface VersionInfo {
  /** The ingress time of the version's `SchemaChange` event (ISO 8601). */
  readonly registeredAt: string;
  /** The pushing principal, or "server" for a `--schema` file registered at start. */
  readonly principal: string;
  /** Breaking rules the change was accepted under. */
  readonly allowedRules: readonly string[];
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
  /**
   * Set when the schema given is an older registered version than the latest (a
   * `--schema` file behind a version pushed since): `current` is then the latest, and
   * this is the older version the schema equals.
   */
  readonly behind?: number;
}

const FILE = /^v(\d{6})\.lock\.json$/;

/** Registers `model` in `dataDir`; throws {@link SchemaRejectedError} on a breaking change. */
export async function registerSchema(
  dataDir: string,
  model: Schema,
  options: {
    readonly allow?: ReadonlySet<string>;
    /** Written as the new version's info file (see {@link VersionInfo}). */
    readonly info?: VersionInfo;
    /** Registered versions already loaded (the running server's); read from `dataDir` otherwise. */
    readonly versions?: ReadonlyMap<number, ServedSchema>;
  } = {},
): Promise<Registration> {
  const dir = join(dataDir, "schemas");
  mkdirSync(dir, { recursive: true });
  const versions = new Map(options.versions ?? loadVersions(dir));
  const latest = [...versions.values()].at(-1);
  const fingerprint = schemaFingerprint(model);
  if (latest && latest.fingerprint === fingerprint) {
    return { current: latest, isNew: false, findings: [], versions };
  }
  // An older version given again (a `--schema` file not updated after a push): the
  // newest version stays served. Going back would be a breaking change, and the versions
  // pushed since are what the data and the clients already use.
  const older = [...versions.values()].find((v) => v.fingerprint === fingerprint);
  if (latest && older) {
    return { current: latest, isNew: false, findings: [], versions, behind: older.version };
  }
  const findings = latest ? checkCompat(latest.model, model) : [];
  if (hasBreaking(findings, options.allow)) {
    const breaking = findings.filter(
      (f) => f.category === "breaking" && !options.allow?.has(f.rule),
    );
    throw new SchemaRejectedError(
      `The schema is not compatible with version ${latest?.version} that this server served: ${breaking.length} breaking change(s); nothing was registered or changed. ` +
        "Make the change compatible as the findings say.",
      findings,
      latest && join(dir, versionFileName(latest.version)),
    );
  }
  const version = (latest?.version ?? 0) + 1;
  const lockJson = lockFromSchema(model);
  if (options.info) await writeVersionInfo(dataDir, version, options.info);
  await writeFileAtomic(join(dir, versionFileName(version)), lockJson);
  const current: ServedSchema = { version, fingerprint, model, lockJson };
  const all = new Map(versions);
  all.set(version, current);
  return { current, isNew: true, findings, versions: all };
}

/**
 * How a file of the registry is written: `durable` (the default) with `writeFileAtomic`'s
 * syncs; `unsynced` replaced by a rename as well, but without syncs, for a restore, which
 * syncs the directory's files once at its end (its data dir is marked unfinished until
 * then, server/archive/restore.ts).
 */
export type RegistryWrite = "durable" | "unsynced";

async function writeRegistryFile(path: string, text: string, how: RegistryWrite): Promise<void> {
  if (how === "durable") return writeFileAtomic(path, text);
  const tmp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  await writeFile(tmp, text, { encoding: "utf8", flag: "wx" });
  await rename(tmp, path);
}

/**
 * Writes the version files `dir` lacks among `recorded` (versions the log holds, as
 * `meta.sqlite` or the log itself gives them); returns the versions written.
 */
export async function restoreSchemaFiles(
  dataDir: string,
  recorded: Iterable<{ readonly version: number; readonly lockJson: string }>,
  how: RegistryWrite = "durable",
): Promise<number[]> {
  const dir = join(dataDir, "schemas");
  mkdirSync(dir, { recursive: true });
  const have = new Set(readdirSync(dir));
  const written: number[] = [];
  for (const { version, lockJson } of recorded) {
    const name = versionFileName(version);
    if (have.has(name)) continue;
    await writeRegistryFile(join(dir, name), lockJson, how);
    written.push(version);
  }
  return written;
}

function versionFileName(version: number): string {
  return `v${String(version).padStart(6, "0")}.lock.json`;
}

function infoFileName(version: number): string {
  return `v${String(version).padStart(6, "0")}.info.json`;
}

/** Writes the info file of `version` (atomically). */
export async function writeVersionInfo(
  dataDir: string,
  version: number,
  info: VersionInfo,
  how: RegistryWrite = "durable",
): Promise<void> {
  const dir = join(dataDir, "schemas");
  mkdirSync(dir, { recursive: true });
  const json = {
    registeredAt: info.registeredAt,
    principal: info.principal,
    allowedRules: info.allowedRules,
  };
  await writeRegistryFile(
    join(dir, infoFileName(version)),
    `${JSON.stringify(json, null, 2)}\n`,
    how,
  );
}

/** The info of `version`, or undefined when its file is missing or unreadable. */
export function readVersionInfo(dataDir: string, version: number): VersionInfo | undefined {
  try {
    const text = readFileSync(join(dataDir, "schemas", infoFileName(version)), "utf8");
    const json = JSON.parse(text) as Partial<Record<keyof VersionInfo, unknown>>;
    return {
      registeredAt: typeof json.registeredAt === "string" ? json.registeredAt : "",
      principal: typeof json.principal === "string" ? json.principal : "",
      allowedRules: Array.isArray(json.allowedRules)
        ? json.allowedRules.filter((r): r is string => typeof r === "string")
        : [],
    };
  } catch {
    return undefined;
  }
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

/**
 * Registers versions another server logged (a server of a cluster learning them from the
 * log): writes the files `dataDir` lacks, and returns the registration to serve, whose
 * `current` is the newest version; undefined when every version was registered already.
 */
export async function registerLogged(
  dataDir: string,
  logged: readonly {
    readonly version: number;
    readonly lockJson: string;
    readonly info: VersionInfo;
  }[],
  versions: ReadonlyMap<number, ServedSchema>,
): Promise<Registration | undefined> {
  const missing = logged.filter((v) => !versions.has(v.version));
  if (missing.length === 0) return undefined;
  await restoreSchemaFiles(dataDir, missing);
  for (const { version, info } of missing)
    if (!readVersionInfo(dataDir, version)) await writeVersionInfo(dataDir, version, info);
  const all = loadVersions(join(dataDir, "schemas"));
  const current = [...all.values()].at(-1);
  if (!current) return undefined;
  return { current, isNew: false, findings: [], versions: all };
}
