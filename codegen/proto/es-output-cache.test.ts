import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  makeRepoTempDir,
  REPO_ROOT,
  removeRepoTempDir,
} from "../../tests/codegen/repo-temp-dir.ts";
import { compileText } from "../../tests/codegen/tracker-schema.ts";
import type { GeneratedFile } from "../writer/generated-file.ts";
import { buildFileDescriptors } from "./build-descriptor.ts";
import {
  createDirEsOutputCache,
  defaultEsCacheDir,
  type EsFileOutput,
  type EsOutputCache,
} from "./es-output-cache.ts";
import { generateEs } from "./generate-es.ts";

/** A cache that records which keys were hits, misses and stores. */
function countingCache(inner: EsOutputCache): EsOutputCache & {
  hits: number;
  misses: number;
  sets: number;
} {
  const counts = { hits: 0, misses: 0, sets: 0 };
  return Object.assign(counts, {
    get(key: string): EsFileOutput | undefined {
      const entry = inner.get(key);
      if (entry === undefined) counts.misses++;
      else counts.hits++;
      return entry;
    },
    set(key: string, output: EsFileOutput): void {
      counts.sets++;
      inner.set(key, output);
    },
  });
}

function texts(files: readonly GeneratedFile[]): string[][] {
  return files.map((f) => [f.path, f.content]);
}

const TRACKER_PATH = "examples/tracker/schema.entdb";
const TRACKER_TEXT = readFileSync(join(REPO_ROOT, TRACKER_PATH), "utf8");
const descriptors = buildFileDescriptors(compileText(TRACKER_PATH, TRACKER_TEXT));
const uncached = texts(generateEs(descriptors));

let dir: string;
beforeEach(() => {
  dir = makeRepoTempDir("es-cache");
});
afterEach(() => removeRepoTempDir(dir));

describe("generateEs with a cache", () => {
  it("prints the same files on a cold and on a warm cache, running the plugin only when cold", () => {
    const cold = countingCache(createDirEsOutputCache(dir));
    expect(texts(generateEs(descriptors, { cache: cold }))).toEqual(uncached);
    expect([cold.hits, cold.misses, cold.sets]).toEqual([
      0,
      descriptors.length,
      descriptors.length,
    ]);
    expect(readdirSync(join(dir, "protoc-gen-es"))).toHaveLength(descriptors.length);

    const warm = countingCache(createDirEsOutputCache(dir));
    expect(texts(generateEs(descriptors, { cache: warm }))).toEqual(uncached);
    expect([warm.hits, warm.misses, warm.sets]).toEqual([descriptors.length, 0, 0]);
  });

  it("misses only the file whose descriptor changed, and every importer of a changed shared file", () => {
    generateEs(descriptors, { cache: createDirEsOutputCache(dir) });
    const text = TRACKER_TEXT;
    const userDoc = text.replace("/// Name shown to other people.", "/// Name shown to others.");
    expect(userDoc).not.toBe(text);
    const changedUser = buildFileDescriptors(compileText(TRACKER_PATH, userDoc));
    const one = countingCache(createDirEsOutputCache(dir));
    const oneFiles = texts(generateEs(changedUser, { cache: one }));
    expect([one.hits, one.misses]).toEqual([descriptors.length - 1, 1]);
    expect(oneFiles).toEqual(texts(generateEs(changedUser)));

    const enumDoc = text.replace("/// How urgent a task is.", "/// How pressing a task is.");
    expect(enumDoc).not.toBe(text);
    const changedShared = buildFileDescriptors(compileText(TRACKER_PATH, enumDoc));
    const all = countingCache(createDirEsOutputCache(dir));
    generateEs(changedShared, { cache: all });
    expect([all.hits, all.misses]).toEqual([0, descriptors.length]);
  });

  it("takes a corrupt or foreign entry for a miss and prints the plugin's output", () => {
    generateEs(descriptors, { cache: createDirEsOutputCache(dir) });
    const entries = readdirSync(join(dir, "protoc-gen-es")).sort();
    const [first, second] = entries;
    if (first === undefined || second === undefined) throw new Error("expected entries");
    writeFileSync(join(dir, "protoc-gen-es", first), '{"key":"');
    writeFileSync(
      join(dir, "protoc-gen-es", second),
      JSON.stringify({ key: "another key", js: "// planted", dts: "// planted" }),
    );
    const cache = countingCache(createDirEsOutputCache(dir));
    expect(texts(generateEs(descriptors, { cache }))).toEqual(uncached);
    expect([cache.hits, cache.misses, cache.sets]).toEqual([descriptors.length - 2, 2, 2]);
  });

  it("generates as without a cache when its dir cannot be created", () => {
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "");
    const cache = countingCache(createDirEsOutputCache(join(blocker, "cache")));
    expect(texts(generateEs(descriptors, { cache }))).toEqual(uncached);
    expect([cache.hits, cache.misses]).toEqual([0, descriptors.length]);
    expect(readdirSync(dir)).toEqual(["a-file"]);
  });
});

describe("defaultEsCacheDir", () => {
  it("prefers ENTDB_CACHE_DIR, then XDG_CACHE_HOME/entdb, then ~/.cache/entdb; 'off' turns it off", () => {
    expect(defaultEsCacheDir({ ENTDB_CACHE_DIR: "/x/cache", XDG_CACHE_HOME: "/xdg" })).toBe(
      "/x/cache",
    );
    expect(defaultEsCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/entdb");
    expect(defaultEsCacheDir({ ENTDB_CACHE_DIR: "off", XDG_CACHE_HOME: "/xdg" })).toBeUndefined();
    expect(defaultEsCacheDir({})).toMatch(/\/\.cache\/entdb$/);
  });
});
