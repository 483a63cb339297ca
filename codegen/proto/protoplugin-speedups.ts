/**
 * Makes protoc-gen-es linear in the size of one file. Its framework
 * (@bufbuild/protoplugin 2.x) has two lookups that scan the whole file on every call:
 * - `names.js` recomputes the generated TypeScript name of every type in the file for
 *   each single name lookup, and names are looked up for every type and every field
 *   that references one;
 * - `source-code-info.js` finds a declaration's comments by scanning all source
 *   locations, once for the declaration and once more for each enclosing one.
 * - `embedFileDesc` (@bufbuild/protobuf's codegenv2) deep-clones the whole descriptor,
 *   SourceCodeInfo included, only to clear SourceCodeInfo and serialize the rest; for a
 *   large schema the locations (one per declaration, with comments) are most of it.
 * EntDB puts a whole schema into one `.proto`, so a 500-type schema took minutes. Here
 * both lookups are replaced by versions that index a file once and then answer from the
 * index, with the same results: names by the same algorithm (ideal name, then `$`,
 * `$1`, … salts, in the same order over the file's types), comments from the first
 * location with the declaration's path; the embedded descriptor from a copy that leaves
 * SourceCodeInfo out before cloning (the bytes are the same: it is cleared anyway).
 *
 * The replacements patch the framework's CommonJS modules that protoc-gen-es loads. If
 * those are not where or what we expect (another version), nothing is patched and
 * generation is only slower; a test compares patched and unpatched output.
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type {
  AnyDesc,
  DescEnum,
  DescExtension,
  DescFile,
  DescMessage,
  DescService,
} from "@bufbuild/protobuf";
import { clearField, isFieldSet } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import type {
  FileDescriptorProto,
  SourceCodeInfo,
  SourceCodeInfo_Location,
} from "@bufbuild/protobuf/wkt";
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
  SourceCodeInfo_LocationSchema,
} from "@bufbuild/protobuf/wkt";
import { safeIdentifier } from "@bufbuild/protoplugin";

type NamedDesc = DescFile | DescMessage | DescEnum | DescService | DescExtension;

/** What protoplugin's `getComments` returns. */
interface Comments {
  readonly leadingDetached: string[];
  readonly leading?: string;
  readonly trailing?: string;
  readonly sourcePath: number[];
}

/** The patched members of protoplugin's `names.js` and `source-code-info.js`. */
interface Patchable {
  generatedDescName(desc: NamedDesc): string;
  generatedShapeName(desc: NamedDesc): string;
  generatedJsonTypeName(desc: NamedDesc): string;
  generatedValidTypeName(desc: NamedDesc): string;
  getComments(desc: AnyDesc): Comments;
}

type NamesModule = Pick<
  Patchable,
  "generatedDescName" | "generatedShapeName" | "generatedJsonTypeName" | "generatedValidTypeName"
>;
type CommentsModule = Pick<Patchable, "getComments">;

/** The patched member of codegenv2's `embed.js`; its result is opaque here. */
interface EmbedModule {
  embedFileDesc(file: FileDescriptorProto): unknown;
}

interface Modules {
  readonly names: NamesModule;
  readonly comments: CommentsModule;
  readonly embed: EmbedModule;
  readonly originals: Patchable & EmbedModule;
}

let modules: Modules | null | undefined;

/** Loads the framework modules protoc-gen-es itself uses (their CommonJS build). */
function loadModules(): Modules | undefined {
  if (modules !== undefined) return modules ?? undefined;
  modules = null;
  try {
    const fromHere = createRequire(import.meta.url);
    const pluginPath = fromHere.resolve(
      "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js",
    );
    const fromPlugin = createRequire(pluginPath);
    const dir = dirname(fromPlugin.resolve("@bufbuild/protoplugin"));
    const names: unknown = fromPlugin(join(dir, "names.js"));
    const comments: unknown = fromPlugin(join(dir, "source-code-info.js"));
    // By absolute path: the package's exports map hides the file, and codegenv2's index
    // re-exports it through live getters, so patching the file patches the index.
    const codegenDir = dirname(fromPlugin.resolve("@bufbuild/protobuf/codegenv2"));
    const embed: unknown = fromPlugin(join(codegenDir, "embed.js"));
    if (
      hasFunctions(names, [
        "generatedDescName",
        "generatedShapeName",
        "generatedJsonTypeName",
        "generatedValidTypeName",
      ]) &&
      hasFunctions(comments, ["getComments"]) &&
      hasFunctions(embed, ["embedFileDesc"])
    ) {
      const n = names as NamesModule;
      const c = comments as CommentsModule;
      const e = embed as EmbedModule;
      modules = {
        names: n,
        comments: c,
        embed: e,
        originals: {
          embedFileDesc: e.embedFileDesc,
          generatedDescName: n.generatedDescName,
          generatedShapeName: n.generatedShapeName,
          generatedJsonTypeName: n.generatedJsonTypeName,
          generatedValidTypeName: n.generatedValidTypeName,
          getComments: c.getComments,
        },
      };
    }
  } catch {
    modules = null;
  }
  return modules ?? undefined;
}

function hasFunctions(value: unknown, keys: readonly string[]): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    keys.every((k) => typeof (value as Record<string, unknown>)[k] === "function")
  );
}

/**
 * Turns the indexed lookups on or off (`generateEs` turns them on). Returns whether the
 * framework modules could be patched.
 */
export function setProtopluginSpeedups(enabled: boolean): boolean {
  const loaded = loadModules();
  if (loaded === undefined) return false;
  const { names, comments, embed, originals } = loaded;
  if (!enabled) {
    embed.embedFileDesc = originals.embedFileDesc;
    names.generatedDescName = originals.generatedDescName;
    names.generatedShapeName = originals.generatedShapeName;
    names.generatedJsonTypeName = originals.generatedJsonTypeName;
    names.generatedValidTypeName = originals.generatedValidTypeName;
    comments.getComments = originals.getComments;
    return true;
  }
  const fileNames = new WeakMap<DescFile, FileNames>();
  const lookup =
    (table: keyof FileNames) =>
    (desc: NamedDesc): string => {
      const file = desc.kind === "file" ? desc : desc.file;
      let computed = fileNames.get(file);
      if (computed === undefined) {
        computed = computeFileNames(file);
        fileNames.set(file, computed);
      }
      const name = computed[table].get(desc);
      if (name === undefined) {
        throw new Error(`unable to determine unique ${table} name for ${desc.toString()}`);
      }
      return name;
    };
  names.generatedDescName = lookup("desc");
  names.generatedShapeName = lookup("shape");
  names.generatedJsonTypeName = lookup("json");
  names.generatedValidTypeName = lookup("valid");
  comments.getComments = createIndexedGetComments();
  embed.embedFileDesc = (file) => originals.embedFileDesc(withoutSourceCodeInfo(file));
  return true;
}

interface FileNames {
  readonly shape: Map<NamedDesc, string>;
  readonly desc: Map<NamedDesc, string>;
  readonly json: Map<NamedDesc, string>;
  readonly valid: Map<NamedDesc, string>;
}

/**
 * A shallow copy of `file` without SourceCodeInfo (same prototype, so field presence
 * reads the same), which `embedFileDesc` then clones without the locations.
 */
function withoutSourceCodeInfo(file: FileDescriptorProto): FileDescriptorProto {
  if (!isFieldSet(file, FileDescriptorProtoSchema.field.sourceCodeInfo)) return file;
  const copy: FileDescriptorProto = Object.assign(
    Object.create(Object.getPrototypeOf(file) as object) as FileDescriptorProto,
    file,
  );
  clearField(copy, FileDescriptorProtoSchema.field.sourceCodeInfo);
  return copy;
}

/** protoplugin's `allNames`, computed once: shapes, then descs, then JSON, then valid types. */
function computeFileNames(file: DescFile): FileNames {
  const taken = new Set<string>();
  const types = [...nestedTypes(file)];
  const shapes = types.filter(
    (d): d is DescMessage | DescEnum => d.kind === "message" || d.kind === "enum",
  );
  const claim = (ideal: (salt: string) => string): string => {
    for (let i = 0; ; i++) {
      const name = safeIdentifier(ideal(i === 0 ? "" : i === 1 ? "$" : `$${i - 1}`));
      if (!taken.has(name)) {
        taken.add(name);
        return name;
      }
    }
  };
  const shape = new Map<NamedDesc, string>();
  for (const d of shapes)
    shape.set(
      d,
      claim((salt) => identifier(d) + salt),
    );
  const desc = new Map<NamedDesc, string>();
  for (const d of [file, ...types]) {
    desc.set(
      d,
      claim((salt) =>
        d.kind === "file"
          ? `file_${d.name.replace(/[^a-zA-Z0-9_]+/g, "_")}${salt}`
          : d.kind === "message" || d.kind === "enum"
            ? `${identifier(d)}Schema${salt}`
            : `${identifier(d)}${salt}`,
      ),
    );
  }
  const json = new Map<NamedDesc, string>();
  for (const d of shapes)
    json.set(
      d,
      claim((salt) => `${identifier(d)}Json${salt}`),
    );
  const valid = new Map<NamedDesc, string>();
  for (const d of shapes)
    valid.set(
      d,
      claim((salt) => `${identifier(d)}Valid${salt}`),
    );
  return { shape, desc, json, valid };
}

/** The type name without the package, nested parts joined by `_`. */
function identifier(desc: Exclude<NamedDesc, DescFile>): string {
  const pkg = desc.file.proto.package;
  return desc.typeName.substring(pkg.length > 0 ? pkg.length + 1 : 0).replace(/\./g, "_");
}

/** protoplugin's `getComments`, with source paths memoized and locations indexed by path. */
function createIndexedGetComments(): (desc: AnyDesc) => Comments {
  const paths = new WeakMap<AnyDesc, number[]>();
  const indexes = new WeakMap<SourceCodeInfo, Map<string, SourceCodeInfo_Location>>();
  const F = FileDescriptorProtoSchema.field;
  const M = DescriptorProtoSchema.field;

  const pathOf = (desc: AnyDesc): number[] => {
    const known = paths.get(desc);
    if (known !== undefined) return known;
    let path: number[];
    switch (desc.kind) {
      case "file":
        path = [];
        break;
      case "enum":
        path = desc.parent
          ? [
              ...pathOf(desc.parent),
              M.enumType.number,
              desc.parent.proto.enumType.indexOf(desc.proto),
            ]
          : [F.enumType.number, desc.file.proto.enumType.indexOf(desc.proto)];
        break;
      case "oneof":
        path = [
          ...pathOf(desc.parent),
          M.oneofDecl.number,
          desc.parent.proto.oneofDecl.indexOf(desc.proto),
        ];
        break;
      case "message":
        path = desc.parent
          ? [
              ...pathOf(desc.parent),
              M.nestedType.number,
              desc.parent.proto.nestedType.indexOf(desc.proto),
            ]
          : [F.messageType.number, desc.file.proto.messageType.indexOf(desc.proto)];
        break;
      case "enum_value":
        path = [
          ...pathOf(desc.parent),
          EnumDescriptorProtoSchema.field.value.number,
          desc.parent.proto.value.indexOf(desc.proto),
        ];
        break;
      case "field":
        path = [
          ...pathOf(desc.parent),
          M.field.number,
          desc.parent.proto.field.indexOf(desc.proto),
        ];
        break;
      case "extension":
        path = desc.parent
          ? [
              ...pathOf(desc.parent),
              M.extension.number,
              desc.parent.proto.extension.indexOf(desc.proto),
            ]
          : [F.extension.number, desc.file.proto.extension.indexOf(desc.proto)];
        break;
      case "service":
        path = [F.service.number, desc.file.proto.service.indexOf(desc.proto)];
        break;
      case "rpc":
        path = [
          ...pathOf(desc.parent),
          ServiceDescriptorProtoSchema.field.method.number,
          desc.parent.proto.method.indexOf(desc.proto),
        ];
        break;
    }
    paths.set(desc, path);
    return path;
  };

  const fileOf = (desc: AnyDesc): DescFile => {
    switch (desc.kind) {
      case "file":
        return desc;
      case "oneof":
      case "enum_value":
      case "field":
      case "rpc":
        return desc.parent.file;
      default:
        return desc.file;
    }
  };

  return (desc: AnyDesc): Comments => {
    const sourcePath = pathOf(desc);
    const info = fileOf(desc).proto.sourceCodeInfo;
    if (info === undefined) return { leadingDetached: [], sourcePath };
    let index = indexes.get(info);
    if (index === undefined) {
      index = new Map();
      for (const location of info.location) {
        const key = location.path.join(",");
        if (!index.has(key)) index.set(key, location); // the first location wins, as upstream
      }
      indexes.set(info, index);
    }
    const location = index.get(sourcePath.join(","));
    if (location === undefined) return { leadingDetached: [], sourcePath };
    const L = SourceCodeInfo_LocationSchema.field;
    return {
      leadingDetached: location.leadingDetachedComments.map(normalizeLineBreaks),
      ...(isFieldSet(location, L.leadingComments)
        ? { leading: normalizeLineBreaks(location.leadingComments) }
        : {}),
      ...(isFieldSet(location, L.trailingComments)
        ? { trailing: normalizeLineBreaks(location.trailingComments) }
        : {}),
      sourcePath,
    };
  };
}

function normalizeLineBreaks(comment: string): string {
  return comment.replace(/\r\n|[\r\u2028\u2029]/g, "\n");
}
