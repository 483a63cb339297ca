/**
 * protoplugin's `getComments` (source-code-info.js) without its scans. Upstream finds a
 * declaration's comments by comparing its source path with every location of the file,
 * once for the declaration and once more for each enclosing one, and finds each index in
 * the path with `indexOf` over the parent's list; protoc-gen-es asks for every message,
 * field, enum value, service and rpc, twice (`.js` and `.d.ts`). Here the locations are
 * indexed once per file in a tree keyed by path element, the paths of enclosing
 * declarations are remembered, and the positions of top-level declarations are indexed
 * once: the same answers (the first location with the declaration's path, line breaks
 * normalized to LF) in time linear in the size of the file.
 */

import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { isFieldSet } from "@bufbuild/protobuf";
import type { SourceCodeInfo_Location } from "@bufbuild/protobuf/wkt";
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
  SourceCodeInfo_LocationSchema,
} from "@bufbuild/protobuf/wkt";

/** What protoplugin's `getComments` returns. */
export interface Comments {
  readonly leadingDetached: string[];
  readonly leading?: string;
  readonly trailing?: string;
  readonly sourcePath: number[];
}

/**
 * A node of the location tree: the location at this path, and the longer paths by
 * their next element (an array: path elements are field numbers and list positions).
 */
interface PathNode {
  location?: SourceCodeInfo_Location;
  readonly next: PathNode[];
}

/** What is indexed per file, on its first lookup. */
interface FileIndex {
  /** Paths of the declarations that enclose others; a leaf's path is built on demand. */
  readonly paths: Map<AnyDesc, number[]>;
  /** Position of each top-level message, enum and service in its list of the file. */
  readonly positions: Map<object, number>;
  readonly locations: PathNode | undefined;
}

const F = FileDescriptorProtoSchema.field;
const M = DescriptorProtoSchema.field;
const L = SourceCodeInfo_LocationSchema.field;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A `getComments` that answers from per-file indexes (dropped with the file). */
export function createIndexedGetComments(): (desc: AnyDesc) => Comments {
  const files = new WeakMap<DescFile, FileIndex>();
  return (desc: AnyDesc): Comments => {
    const file = fileOf(desc);
    let index = files.get(file);
    if (index === undefined) {
      index = indexFile(file);
      files.set(file, index);
    }
    const sourcePath = pathOf(desc, index);
    let node = index.locations;
    for (let i = 0; node !== undefined && i < sourcePath.length; i++) {
      node = node.next[sourcePath[i]!];
    }
    const location = node?.location;
    const comments: Writable<Comments> = { leadingDetached: [], sourcePath };
    if (location === undefined) return comments;
    comments.leadingDetached = location.leadingDetachedComments.map(normalizeLineBreaks);
    if (isFieldSet(location, L.leadingComments)) {
      comments.leading = normalizeLineBreaks(location.leadingComments);
    }
    if (isFieldSet(location, L.trailingComments)) {
      comments.trailing = normalizeLineBreaks(location.trailingComments);
    }
    return comments;
  };
}

function indexFile(file: DescFile): FileIndex {
  const positions = new Map<object, number>();
  for (const list of [file.proto.messageType, file.proto.enumType, file.proto.service]) {
    // `indexOf` semantics: the first position of a value that occurs twice.
    list.forEach((proto, i) => {
      if (!positions.has(proto)) positions.set(proto, i);
    });
  }
  const info = file.proto.sourceCodeInfo;
  let locations: PathNode | undefined;
  if (info !== undefined) {
    locations = { next: [] };
    for (const location of info.location) {
      let node = locations;
      for (const part of location.path) node = node.next[part] ??= { next: [] };
      node.location ??= location; // the first location wins, as upstream
    }
  }
  return { paths: new Map(), positions, locations };
}

/** The file a declaration's comments are looked up in, as upstream. */
function fileOf(desc: AnyDesc): DescFile {
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
}

/** The declaration's source path, built as upstream builds it. */
function pathOf(desc: AnyDesc, index: FileIndex): number[] {
  // Only enclosing declarations are asked for again (once per member): remember those.
  const enclosing = desc.kind === "message" || desc.kind === "enum" || desc.kind === "service";
  const known = enclosing ? index.paths.get(desc) : undefined;
  if (known !== undefined) return known;
  const top = (proto: object): number => index.positions.get(proto) ?? -1;
  let path: number[];
  switch (desc.kind) {
    case "file":
      path = [];
      break;
    case "enum":
      path = desc.parent
        ? [
            ...pathOf(desc.parent, index),
            M.enumType.number,
            desc.parent.proto.enumType.indexOf(desc.proto),
          ]
        : [F.enumType.number, top(desc.proto)];
      break;
    case "oneof":
      path = [
        ...pathOf(desc.parent, index),
        M.oneofDecl.number,
        desc.parent.proto.oneofDecl.indexOf(desc.proto),
      ];
      break;
    case "message":
      path = desc.parent
        ? [
            ...pathOf(desc.parent, index),
            M.nestedType.number,
            desc.parent.proto.nestedType.indexOf(desc.proto),
          ]
        : [F.messageType.number, top(desc.proto)];
      break;
    case "enum_value":
      path = [
        ...pathOf(desc.parent, index),
        EnumDescriptorProtoSchema.field.value.number,
        desc.parent.proto.value.indexOf(desc.proto),
      ];
      break;
    case "field":
      path = [
        ...pathOf(desc.parent, index),
        M.field.number,
        desc.parent.proto.field.indexOf(desc.proto),
      ];
      break;
    case "extension":
      path = desc.parent
        ? [
            ...pathOf(desc.parent, index),
            M.extension.number,
            desc.parent.proto.extension.indexOf(desc.proto),
          ]
        : [F.extension.number, desc.file.proto.extension.indexOf(desc.proto)];
      break;
    case "service":
      path = [F.service.number, top(desc.proto)];
      break;
    case "rpc":
      path = [
        ...pathOf(desc.parent, index),
        ServiceDescriptorProtoSchema.field.method.number,
        desc.parent.proto.method.indexOf(desc.proto),
      ];
      break;
  }
  if (enclosing) index.paths.set(desc, path);
  return path;
}

function normalizeLineBreaks(comment: string): string {
  return comment.replace(/\r\n|[\r\u2028\u2029]/g, "\n");
}
