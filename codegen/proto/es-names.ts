/**
 * The names protobuf-es code uses for the declarations of a `.proto` file, and where
 * other files import them from: the runtime's naming rules (`@bufbuild/protobuf`'s
 * generated code links to declarations by these names, so they are part of the format).
 *
 * Per file: a message or enum `acme.tracker.Task` (nested: `Outer.Inner` → `Outer_Inner`)
 * has the type `Task`, the descriptor constant `TaskSchema` and, with JSON types, the
 * type `TaskJson`; a service `TaskService` keeps its name; the file itself is
 * `file_acme_tracker_task`. Names that are reserved words get a `$` suffix (`Object$`);
 * a name taken by an earlier one gets `$`, then `$1`, `$2`, … (types first, then
 * descriptors in declaration order, then JSON types).
 */

import type {
  DescriptorProto,
  EnumDescriptorProto,
  FileDescriptorProto,
  ServiceDescriptorProto,
} from "@bufbuild/protobuf/wkt";

/** A message or enum of some file, with its names. */
export interface EsType {
  readonly kind: "message" | "enum";
  /** `acme.tracker.Task`, no leading dot. */
  readonly typeName: string;
  readonly proto: DescriptorProto | EnumDescriptorProto;
  readonly file: EsFile;
  /** Indices from the file down to it (`messageDesc(file, 0, 1)` for a nested one). */
  readonly path: readonly number[];
  /** Its enclosing message, if nested. */
  readonly parent: EsType | undefined;
  readonly shapeName: string;
  readonly descName: string;
  readonly jsonName: string;
}

/** A service of some file, with its name. */
export interface EsService {
  readonly proto: ServiceDescriptorProto;
  readonly typeName: string;
  readonly index: number;
  readonly descName: string;
}

/** A file with the names of all it declares. */
export interface EsFile {
  readonly proto: FileDescriptorProto;
  /** `acme/tracker/task` for `acme/tracker/task.proto`. */
  readonly base: string;
  /** Where generated code imports it from: `./acme/tracker/task_pb.js`, or the runtime's wkt. */
  readonly importPath: string;
  readonly descName: string;
  /** Messages (each followed by its nested types), then enums: protobuf-es's order. */
  readonly types: readonly EsType[];
  readonly services: readonly EsService[];
}

/** Where generated code imports the well-known types from. */
export const WKT_IMPORT_PATH = "@bufbuild/protobuf/wkt";

/** Names that cannot be identifiers of declarations (protoplugin's `safeIdentifier`). */
const RESERVED_IDENTIFIERS = new Set([
  ...["break", "case", "catch", "class", "const", "continue", "debugger", "default"],
  ...["delete", "do", "else", "export", "extends", "false", "finally", "for", "function"],
  ...["if", "import", "in", "instanceof", "new", "null", "return", "super", "switch"],
  ...["this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield"],
  ...["enum", "implements", "interface", "let", "package", "private", "protected"],
  ...["public", "static", "Object", "bigint", "number", "boolean", "string", "object"],
  ...["globalThis", "Uint8Array", "Partial"],
]);

function safeIdentifier(name: string): string {
  return RESERVED_IDENTIFIERS.has(name) ? `${name}$` : name;
}

/** The suffix of the `i`th try at a free name: ``, `$`, `$1`, `$2`, … */
function salt(i: number): string {
  return i === 0 ? "" : i === 1 ? "$" : `$${i - 1}`;
}

/** `file.proto` without the `.proto` extension. */
export function esFileBase(protoName: string): string {
  return protoName.endsWith(".proto") ? protoName.slice(0, -".proto".length) : protoName;
}

/**
 * The names of `proto`'s declarations; `importPath` overrides `./<base>_pb.js` (for
 * well-known types, which generated code imports from the runtime).
 */
export function esFileOf(proto: FileDescriptorProto, importPath?: string): EsFile {
  const base = esFileBase(proto.name);
  const pkg = proto.package;
  const taken = new Set<string>();
  const free = (ideal: (i: number) => string): string => {
    for (let i = 0; ; i++) {
      const name = ideal(i);
      if (!taken.has(name)) {
        taken.add(name);
        return name;
      }
    }
  };
  interface Found {
    kind: "message" | "enum";
    typeName: string;
    proto: DescriptorProto | EnumDescriptorProto;
    path: number[];
    parent: Found | undefined;
  }
  const found: Found[] = [];
  const walk = (message: DescriptorProto, typeName: string, path: number[], parent?: Found) => {
    const self: Found = { kind: "message", typeName, proto: message, path, parent };
    found.push(self);
    message.nestedType.forEach((nested, i) => {
      walk(nested, `${typeName}.${nested.name}`, [...path, i], self);
    });
    message.enumType.forEach((e, i) => {
      found.push({
        kind: "enum",
        typeName: `${typeName}.${e.name}`,
        proto: e,
        path: [...path, i],
        parent: self,
      });
    });
  };
  const prefix = pkg === "" ? "" : `${pkg}.`;
  proto.messageType.forEach((m, i) => {
    walk(m, `${prefix}${m.name}`, [i]);
  });
  proto.enumType.forEach((e, i) => {
    found.push({
      kind: "enum",
      typeName: `${prefix}${e.name}`,
      proto: e,
      path: [i],
      parent: undefined,
    });
  });
  const identifier = (typeName: string): string =>
    typeName.slice(prefix.length).replaceAll(".", "_");

  const shapeNames = found.map((t) =>
    free((i) => safeIdentifier(identifier(t.typeName) + salt(i))),
  );
  const fileDescName = free((i) =>
    safeIdentifier(`file_${base.replace(/[^a-zA-Z0-9_]+/g, "_")}${salt(i)}`),
  );
  const descNames = found.map((t) =>
    free((i) => safeIdentifier(`${identifier(t.typeName)}Schema${salt(i)}`)),
  );
  const services = proto.service.map((s, index) => {
    const typeName = `${prefix}${s.name}`;
    const descName = free((i) => safeIdentifier(identifier(typeName) + salt(i)));
    return { proto: s, typeName, index, descName };
  });
  const jsonNames = found.map((t) =>
    free((i) => safeIdentifier(`${identifier(t.typeName)}Json${salt(i)}`)),
  );

  const types: EsType[] = [];
  const file: EsFile = {
    proto,
    base,
    importPath: importPath ?? `./${base}_pb.js`,
    descName: fileDescName,
    types,
    services,
  };
  const byFound = new Map<Found, EsType>();
  found.forEach((t, i) => {
    const type: EsType = {
      kind: t.kind,
      typeName: t.typeName,
      proto: t.proto,
      file,
      path: t.path,
      parent: t.parent === undefined ? undefined : byFound.get(t.parent),
      shapeName: shapeNames[i] ?? "",
      descName: descNames[i] ?? "",
      jsonName: jsonNames[i] ?? "",
    };
    byFound.set(t, type);
    types.push(type);
  });
  return file;
}
