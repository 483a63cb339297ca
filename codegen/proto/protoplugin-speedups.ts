/**
 * Makes protoc-gen-es linear in the size of one file, and cheaper per declaration.
 * EntDB puts a whole schema into one `.proto`, and its framework (@bufbuild/protoplugin
 * 2.x, with @bufbuild/protobuf) was written for many small files: a 500-type schema took
 * minutes. These framework functions are replaced by versions that give the same
 * results:
 * - `names.js`'s generated names, computed once per file (`indexed-names.ts`);
 * - `source-code-info.js`'s `getComments`, answered from per-file indexes
 *   (`indexed-comments.ts`);
 * - codegenv2's `embedFileDesc`, whose descriptor copy for the embedded bytes is made
 *   without a deep clone (`embed-descriptor-copy.ts`);
 * - `jsdoc.js`'s `formatJsDocBlock`, in one pass (`jsdoc-block.ts`).
 *
 * The replacements patch the framework's CommonJS modules that protoc-gen-es loads
 * (`protoc-gen-es-loader.ts`); the framework calls them through the modules' export
 * objects, so the patches take effect. If those modules are not where or what we expect
 * (another version), nothing is patched and generation is only slower; a test compares
 * patched and unpatched output byte for byte.
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { embeddedDescriptorCopy } from "./embed-descriptor-copy.ts";
import { createIndexedGetComments } from "./indexed-comments.ts";
import { createNameLookup } from "./indexed-names.ts";
import { formatJsDocBlock } from "./jsdoc-block.ts";
import { requireProtobufModule, requireProtopluginModule } from "./protoc-gen-es-loader.ts";

/** What codegenv2's `embedFileDesc` returns; protoc-gen-es calls `base64()`. */
interface EmbeddedFile {
  readonly bootable: boolean;
  proto(): FileDescriptorProto;
  base64(): string;
}

type Fn = (...args: never[]) => unknown;

/** A framework module's exports, as far as they are read or patched here. */
type Exports = Record<string, Fn>;

/**
 * The framework modules used here (by package and path below its `dist/cjs`) and the
 * functions replaced in them or, for `safeIdentifier`, read from them.
 */
const FRAMEWORK = {
  names: [
    "protoplugin",
    "names.js",
    ["generatedDescName", "generatedShapeName", "generatedJsonTypeName", "generatedValidTypeName"],
  ],
  comments: ["protoplugin", "source-code-info.js", ["getComments"]],
  jsdoc: ["protoplugin", "jsdoc.js", ["formatJsDocBlock"]],
  safe: ["protoplugin", "safe-identifier.js", ["safeIdentifier"]],
  // codegenv2's index re-exports `embed.js` through live getters, so patching the file's
  // exports patches what protoc-gen-es calls.
  embed: ["protobuf", "codegenv2/embed.js", ["embedFileDesc"]],
} as const satisfies Record<
  string,
  readonly ["protoplugin" | "protobuf", string, readonly string[]]
>;

type ModuleName = keyof typeof FRAMEWORK;

interface Modules {
  readonly exports: Readonly<Record<ModuleName, Exports>>;
  /** The original functions, by module and name, to restore. */
  readonly originals: ReadonlyMap<Exports, Readonly<Record<string, Fn>>>;
}

let modules: Modules | null | undefined;

/** Loads the framework modules protoc-gen-es itself uses (their CommonJS build). */
function loadModules(): Modules | undefined {
  if (modules !== undefined) return modules ?? undefined;
  modules = null;
  try {
    const exports = {} as Record<ModuleName, Exports>;
    const originals = new Map<Exports, Record<string, Fn>>();
    for (const [name, [from, file, keys]] of Object.entries(FRAMEWORK)) {
      const loaded: unknown =
        from === "protoplugin" ? requireProtopluginModule(file) : requireProtobufModule(file);
      if (!hasFunctions(loaded, keys)) return undefined;
      exports[name as ModuleName] = loaded;
      originals.set(loaded, Object.fromEntries(keys.map((k) => [k, loaded[k]!])));
    }
    modules = { exports, originals };
  } catch {
    modules = null;
  }
  return modules ?? undefined;
}

function hasFunctions(value: unknown, keys: readonly string[]): value is Exports {
  return (
    typeof value === "object" &&
    value !== null &&
    keys.every((k) => typeof (value as Record<string, unknown>)[k] === "function")
  );
}

/**
 * Turns the replacements on or off (`generateEs` turns them on). Returns whether the
 * framework modules could be patched.
 */
export function setProtopluginSpeedups(enabled: boolean): boolean {
  const loaded = loadModules();
  if (loaded === undefined) return false;
  for (const [target, functions] of loaded.originals) Object.assign(target, functions);
  if (!enabled) return true;

  const { names, comments, jsdoc, safe, embed } = loaded.exports;
  const original = (target: Exports, key: string): Fn => loaded.originals.get(target)![key]!;

  const lookup = createNameLookup(original(safe, "safeIdentifier") as (name: string) => string);
  names["generatedDescName"] = lookup("desc");
  names["generatedShapeName"] = lookup("shape");
  names["generatedJsonTypeName"] = lookup("json");
  names["generatedValidTypeName"] = lookup("valid");
  comments["getComments"] = createIndexedGetComments();
  jsdoc["formatJsDocBlock"] = formatJsDocBlock;

  const embedFileDesc = original(embed, "embedFileDesc") as (
    file: FileDescriptorProto,
  ) => EmbeddedFile;
  embed["embedFileDesc"] = (file: FileDescriptorProto): EmbeddedFile => {
    const embedded = embedFileDesc(file);
    // descriptor.proto embeds as a plain object (`boot()`), built from `proto()`: leave it.
    if (embedded.bootable) return embedded;
    // `base64()` serializes `this.proto()`, so replacing `proto` is enough.
    return { ...embedded, proto: () => embeddedDescriptorCopy(file) };
  };
  return true;
}
