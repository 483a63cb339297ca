/**
 * A content-addressed cache of protoc-gen-es output, so `entdb generate` runs the plugin
 * only on the `.proto` files whose inputs changed since it last saw them.
 *
 * The plugin's output for one file is a function of the plugin's version, its parameter
 * string and the descriptors of that file and of every file it imports (transitively):
 * nothing else in a CodeGeneratorRequest reaches that file's output. The key hashes
 * exactly those inputs (`esCacheKey`), so a hit is the output the plugin would print, and
 * any change to a file, to a file it imports, to the parameter or to the plugin version is
 * a miss. The entry holds the plugin's raw `_pb.js` and `_pb.d.ts` text; trimming stays a
 * step of every run, so a change to `trim-es-output.ts` never meets stale entries.
 *
 * The cache is an optimisation only: an entry that is missing, unreadable or not what the
 * key says is a miss, and a directory that cannot be written leaves the run as it would be
 * without a cache. Entries are written to a temporary name and renamed, so a reader never
 * sees half an entry; two runs writing the same key write the same bytes. Nothing removes
 * old entries: the directory may be deleted at any time.
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** The plugin's output for one `.proto` file, before trimming. */
export interface EsFileOutput {
  /** The `_pb.js` text. */
  readonly js: string;
  /** The `_pb.d.ts` text. */
  readonly dts: string;
}

/** Where protoc-gen-es output is kept between runs, by `esCacheKey`. */
export interface EsOutputCache {
  /** The entry stored under `key`, or undefined (a miss) if there is none usable. */
  get(key: string): EsFileOutput | undefined;
  /** Stores `output` under `key`; a failure to store is not an error. */
  set(key: string, output: EsFileOutput): void;
}

/**
 * The directory `entdb generate` keeps its cache in: `ENTDB_CACHE_DIR` if set, else
 * `$XDG_CACHE_HOME/entdb`, else `~/.cache/entdb`. Per user, never a shared temp dir, so
 * no other user can plant output in it. `ENTDB_CACHE_DIR=off` turns the cache off
 * (undefined).
 */
export function defaultEsCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.ENTDB_CACHE_DIR;
  if (explicit === "off") return undefined;
  if (explicit !== undefined && explicit !== "") return explicit;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "entdb");
}

/** Entries are files under `<dir>/protoc-gen-es/`, named by their key. */
export function createDirEsOutputCache(dir: string): EsOutputCache {
  const root = join(dir, "protoc-gen-es");
  let writable = true;
  return {
    get(key) {
      let text: string;
      try {
        text = readFileSync(join(root, key), "utf8");
      } catch {
        return undefined;
      }
      return parseEntry(text, key);
    },
    set(key, output) {
      if (!writable) return;
      const target = join(root, key);
      const temp = `${target}.${process.pid}.tmp`;
      try {
        mkdirSync(root, { recursive: true });
        writeFileSync(temp, JSON.stringify({ key, js: output.js, dts: output.dts }));
        renameSync(temp, target);
      } catch {
        // Not writable (a read-only home, a full disk): carry on without storing.
        writable = false;
      }
    },
  };
}

/** An entry's text as stored by `set`, or undefined if it is not one for `key`. */
function parseEntry(text: string, key: string): EsFileOutput | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof entry !== "object" || entry === null) return undefined;
  const { key: stored, js, dts } = entry as Record<string, unknown>;
  if (stored !== key || typeof js !== "string" || typeof dts !== "string") return undefined;
  return { js, dts };
}

/** The installed protoc-gen-es version, read from its package.json (no `exports` map). */
function pluginVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("@bufbuild/protoc-gen-es/package.json") as { version: string }).version;
}

let version: string | undefined;

/**
 * The key of `file`'s output: a SHA-256 over the plugin version, `parameter`, and the
 * binary descriptors of `file` and of each file it imports, transitively (`byName` holds
 * every descriptor of the request, by file name), in a fixed order.
 */
export function esCacheKey(
  file: FileDescriptorProto,
  parameter: string,
  byName: ReadonlyMap<string, FileDescriptorProto>,
  binary: (file: FileDescriptorProto) => Uint8Array = (f) => toBinary(FileDescriptorProtoSchema, f),
): string {
  version ??= pluginVersion();
  const hash = createHash("sha256");
  const field = (bytes: Uint8Array | string): void => {
    const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    hash.update(`${data.length}:`);
    hash.update(data);
  };
  field(`protoc-gen-es ${version}`);
  field(parameter);
  for (const name of importClosure(file, byName)) {
    field(name);
    const descriptor = byName.get(name);
    field(descriptor === undefined ? "" : binary(descriptor));
  }
  return hash.digest("hex");
}

/** `file`'s name and the names of all files it imports, transitively, sorted. */
function importClosure(
  file: FileDescriptorProto,
  byName: ReadonlyMap<string, FileDescriptorProto>,
): string[] {
  const seen = new Set<string>([file.name]);
  const queue = [...file.dependency];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    queue.push(...(byName.get(name)?.dependency ?? []));
  }
  return [...seen].sort();
}
