/**
 * Every name the `.proto` generator derives from the model, in one place, so the
 * descriptor builder, the text printer, the collision check and the docs agree.
 * Names derive from schema names (labels); numbers derive from ids (identity).
 */

/** The messages and the enum every generated file declares once, whatever the schema. */
export const SHARED_NAMES = {
  writeReceipt: "WriteReceipt",
  filterOp: "FilterOp",
  filterValue: "FilterValue",
  fieldFilter: "FieldFilter",
  orderBy: "OrderBy",
} as const;

/** The fixed values of the shared `FilterOp` enum, in number order (1..n). */
export const FILTER_OPS = [
  "EQ",
  "NE",
  "LT",
  "LTE",
  "GT",
  "GTE",
  "IN",
  "CONTAINS",
  "PREFIX",
] as const;

/** The generated names of one node type `T`. */
export interface NodeTypeNames {
  /** `T`: exactly the type's fields. */
  readonly fields: string;
  /** `TNode`: id, fields, version and timestamps of a stored node. */
  readonly node: string;
  readonly service: string;
  readonly createRequest: string;
  readonly createResponse: string;
  readonly getRequest: string;
  readonly getResponse: string;
  readonly updateRequest: string;
  readonly updateResponse: string;
  readonly deleteRequest: string;
  readonly deleteResponse: string;
  readonly queryRequest: string;
  readonly queryResponse: string;
  /** `Search`, `SearchResponse` and `SearchHit`: declared only for a type with searchable fields. */
  readonly searchRequest: string;
  readonly searchResponse: string;
  readonly searchHit: string;
  /** `Watch`'s request and response, and `TChange`: one node change in a response. */
  readonly watchRequest: string;
  readonly watchResponse: string;
  readonly change: string;
}

/** The generated names of one edge type `E`. */
export interface EdgeTypeNames {
  /** `E`: exactly the edge's properties. */
  readonly props: string;
  /** `EEdge`: endpoints, properties and creation time of a stored edge. */
  readonly edge: string;
  readonly service: string;
  readonly linkRequest: string;
  readonly linkResponse: string;
  readonly unlinkRequest: string;
  readonly unlinkResponse: string;
  readonly listRequest: string;
  readonly listInverseRequest: string;
  /** Shared by `List` and `ListInverse`. */
  readonly listResponse: string;
}

/** Names derived from node type `name`. */
export function nodeTypeNames(name: string): NodeTypeNames {
  return {
    fields: name,
    node: `${name}Node`,
    service: `${name}Service`,
    createRequest: `Create${name}Request`,
    createResponse: `Create${name}Response`,
    getRequest: `Get${name}Request`,
    getResponse: `Get${name}Response`,
    updateRequest: `Update${name}Request`,
    updateResponse: `Update${name}Response`,
    deleteRequest: `Delete${name}Request`,
    deleteResponse: `Delete${name}Response`,
    queryRequest: `Query${name}Request`,
    queryResponse: `Query${name}Response`,
    searchRequest: `Search${name}Request`,
    searchResponse: `Search${name}Response`,
    searchHit: `${name}SearchHit`,
    watchRequest: `Watch${name}Request`,
    watchResponse: `Watch${name}Response`,
    change: `${name}Change`,
  };
}

/** Names derived from edge type `name`. */
export function edgeTypeNames(name: string): EdgeTypeNames {
  return {
    props: name,
    edge: `${name}Edge`,
    service: `${name}Service`,
    linkRequest: `Link${name}Request`,
    linkResponse: `Link${name}Response`,
    unlinkRequest: `Unlink${name}Request`,
    unlinkResponse: `Unlink${name}Response`,
    listRequest: `List${name}Request`,
    listInverseRequest: `ListInverse${name}Request`,
    listResponse: `List${name}Response`,
  };
}

/**
 * The path of the shared `.proto` of a package (its enums and the messages every type's
 * API uses): its dots become directories and the file is `schema.proto` (`acme.tracker`
 * → `acme/tracker/schema.proto`), so the path matches the package as `buf` expects.
 */
export function protoFilePath(pkg: string): string {
  return `${protoPackageDir(pkg)}/schema.proto`;
}

/**
 * The path of the `.proto` of one node or edge type, beside the shared file, named for
 * the type in snake case (`acme.tracker`, `AssignedTo` → `acme/tracker/assigned_to.proto`).
 */
export function protoTypeFilePath(pkg: string, typeName: string): string {
  return `${protoPackageDir(pkg)}/${screamingSnake(typeName).toLowerCase()}.proto`;
}

function protoPackageDir(pkg: string): string {
  return pkg.split(".").join("/");
}

/**
 * `TaskStatus` → `TASK_STATUS`, `HTTPCode` → `HTTP_CODE`, `in_progress` → `IN_PROGRESS`:
 * the prefix protobuf style puts on enum values, because values share the package scope.
 */
export function screamingSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}

/** The proto name of enum value `value` of enum `enumName`: `TASK_STATUS_TODO`. */
export function enumValueName(enumName: string, value: string): string {
  return `${screamingSnake(enumName)}_${value.toUpperCase()}`;
}

/** The zero value every proto3 enum needs, which the schema never uses: `TASK_STATUS_UNSPECIFIED`. */
export function enumZeroValueName(enumName: string): string {
  return `${screamingSnake(enumName)}_UNSPECIFIED`;
}

/**
 * The JSON name protoc derives for a field (`display_name` → `displayName`): underscores
 * are dropped and the letter after one is upper-cased. Set in the descriptor exactly as
 * protoc does, so the in-process descriptor equals the one `buf` builds from the text.
 */
export function protoJsonName(fieldName: string): string {
  let out = "";
  let upperNext = false;
  for (const ch of fieldName) {
    if (ch === "_") {
      upperNext = true;
    } else if (upperNext) {
      out += ch.toUpperCase();
      upperNext = false;
    } else {
      out += ch;
    }
  }
  return out;
}

/** The fully qualified proto type name (descriptor form, leading dot) of `name` in `pkg`. */
export function qualifiedName(pkg: string, name: string): string {
  return `.${pkg}.${name}`;
}

/** Well-known types the generated file may import. */
export const WKT = {
  timestamp: { typeName: ".google.protobuf.Timestamp", file: "google/protobuf/timestamp.proto" },
  value: { typeName: ".google.protobuf.Value", file: "google/protobuf/struct.proto" },
} as const;
