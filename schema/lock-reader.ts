/**
 * Reads a parsed lock file into a model, trusting nothing: the version, the shape
 * of every value (errors name its JSON path, e.g. `nodes[1].fields[0].type.kind`)
 * and the references between types. The fingerprint is checked by `modelFromLock`.
 */

import { LOCK_VERSION } from "./fingerprint.ts";
import {
  type CompositeConstraint,
  type DefaultValue,
  type EdgeType,
  type ElementType,
  type EnumType,
  type EnumValue,
  type Field,
  type FieldType,
  type IdRange,
  INT64_MAX,
  INT64_MIN,
  MAX_ENUM_NUMBER,
  MAX_ID,
  type NodeType,
  SCALAR_KINDS,
  type ScalarKind,
  type Schema,
  type Visibility,
} from "./model.ts";

/** What went wrong with a lock file. */
export type LockFileErrorCode =
  /** Not JSON at all. */
  | "LOCK_INVALID_JSON"
  /** JSON, but a key is missing, unexpected or of the wrong type. */
  | "LOCK_INVALID_SHAPE"
  /** Written by a version of the format this code does not read. */
  | "LOCK_UNSUPPORTED_VERSION"
  /** Well formed, but it contradicts itself (a duplicate id, a reference to nothing). */
  | "LOCK_INVALID_MODEL"
  /** The content does not match the recorded fingerprint: the file was edited by hand. */
  | "LOCK_FINGERPRINT_MISMATCH";

/** A lock file that cannot be used; the message names the file and what to fix. */
export class LockFileError extends Error {
  override readonly name = "LockFileError";
  readonly code: LockFileErrorCode;
  /** The lock file's path as given by the caller. */
  readonly path: string;

  constructor(code: LockFileErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, options);
    this.code = code;
    this.path = path;
  }
}

/** A lock file's model and the fingerprint it records (not yet verified). */
export interface ReadLock {
  readonly schema: Schema;
  readonly fingerprint: string;
}

/**
 * Reads parsed lock JSON: checks the version, the shape and the references, and
 * returns the model with the recorded fingerprint. Throws {@link LockFileError}.
 */
export function readLock(json: unknown, path: string): ReadLock {
  const reader = new LockReader(path);
  const root = reader.object(json, "the lock file");
  const version = root["lockVersion"];
  if (version !== LOCK_VERSION) {
    throw new LockFileError(
      "LOCK_UNSUPPORTED_VERSION",
      path,
      `unsupported lockVersion ${JSON.stringify(version) ?? "(missing)"}; this entdb reads version ${LOCK_VERSION}. Regenerate the lock with 'entdb lock'.`,
    );
  }
  const fingerprint = reader.fingerprint(root["fingerprint"], "fingerprint");
  const schema = reader.schema(root);
  checkConsistency(schema, path);
  return { schema, fingerprint };
}

type JsonObject = Readonly<Record<string, unknown>>;

const VISIBILITIES: readonly Visibility[] = ["private", "tenant", "public"];
const DEFAULT_KINDS = ["string", "int", "float", "bool", "timestamp", "enum"] as const;

/** Reads the JSON tree into model objects, naming the JSON path of the first bad value. */
class LockReader {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  schema(root: JsonObject): Schema {
    this.keys(root, "the lock file", [
      "lockVersion",
      "package",
      "fingerprint",
      "reservedIds",
      "reservedNames",
      "retiredIds",
      "nodes",
      "edges",
      "enums",
    ]);
    const nodes = this.array(root["nodes"], "nodes").map((n, i) => this.node(n, `nodes[${i}]`));
    const edges = this.array(root["edges"], "edges").map((e, i) => this.edge(e, `edges[${i}]`));
    const enums = this.array(root["enums"], "enums").map((e, i) => this.enumType(e, `enums[${i}]`));
    return {
      package: this.string(root["package"], "package"),
      nodes: nodes.sort((a, b) => a.id - b.id),
      edges: edges.sort((a, b) => a.id - b.id),
      enums: enums.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      reservedIds: this.ranges(root["reservedIds"], "reservedIds", MAX_ID),
      reservedNames: this.strings(root["reservedNames"], "reservedNames"),
      ...this.retired(root, "retiredIds", "", MAX_ID),
    };
  }

  node(value: unknown, at: string): NodeType {
    const o = this.object(value, at);
    this.keys(o, at, [
      "id",
      "name",
      "visibility",
      "deprecated",
      "fields",
      "uniques",
      "indexes",
      "reservedIds",
      "reservedNames",
      "retiredIds",
    ]);
    return {
      id: this.int(o["id"], `${at}.id`, 1, MAX_ID),
      name: this.string(o["name"], `${at}.name`),
      fields: this.fields(o["fields"], `${at}.fields`),
      uniques: this.composites(o["uniques"], `${at}.uniques`),
      indexes: this.composites(o["indexes"], `${at}.indexes`),
      visibility: this.oneOf(o["visibility"], `${at}.visibility`, VISIBILITIES),
      deprecated: this.bool(o["deprecated"], `${at}.deprecated`),
      reservedIds: this.ranges(o["reservedIds"], `${at}.reservedIds`, MAX_ID),
      reservedNames: this.strings(o["reservedNames"], `${at}.reservedNames`),
      ...this.retired(o, "retiredIds", `${at}.`, MAX_ID),
    };
  }

  edge(value: unknown, at: string): EdgeType {
    const o = this.object(value, at);
    this.keys(o, at, [
      "id",
      "name",
      "fromId",
      "toId",
      "uniquePerFrom",
      "inverseName",
      "mailboxFieldId",
      "deprecated",
      "fields",
      "reservedIds",
      "reservedNames",
      "retiredIds",
    ]);
    const inverse = o["inverseName"];
    const mailbox = o["mailboxFieldId"];
    return {
      id: this.int(o["id"], `${at}.id`, 1, MAX_ID),
      name: this.string(o["name"], `${at}.name`),
      fromId: this.int(o["fromId"], `${at}.fromId`, 1, MAX_ID),
      toId: this.int(o["toId"], `${at}.toId`, 1, MAX_ID),
      uniquePerFrom: this.bool(o["uniquePerFrom"], `${at}.uniquePerFrom`),
      ...(inverse === undefined ? {} : { inverseName: this.string(inverse, `${at}.inverseName`) }),
      ...(mailbox === undefined
        ? {}
        : { mailboxFieldId: this.int(mailbox, `${at}.mailboxFieldId`, 1, MAX_ID) }),
      fields: this.fields(o["fields"], `${at}.fields`),
      deprecated: this.bool(o["deprecated"], `${at}.deprecated`),
      reservedIds: this.ranges(o["reservedIds"], `${at}.reservedIds`, MAX_ID),
      reservedNames: this.strings(o["reservedNames"], `${at}.reservedNames`),
      ...this.retired(o, "retiredIds", `${at}.`, MAX_ID),
    };
  }

  fields(value: unknown, at: string): Field[] {
    return this.array(value, at)
      .map((f, i) => this.field(f, `${at}[${i}]`))
      .sort((a, b) => a.id - b.id);
  }

  field(value: unknown, at: string): Field {
    const o = this.object(value, at);
    this.keys(o, at, [
      "id",
      "name",
      "type",
      "required",
      "unique",
      "index",
      "searchable",
      "searchWeight",
      "inheritAccess",
      "deprecated",
      "default",
    ]);
    const def = o["default"];
    return {
      id: this.int(o["id"], `${at}.id`, 1, MAX_ID),
      name: this.string(o["name"], `${at}.name`),
      type: this.fieldType(o["type"], `${at}.type`),
      required: this.bool(o["required"], `${at}.required`),
      unique: this.bool(o["unique"], `${at}.unique`),
      index: this.bool(o["index"], `${at}.index`),
      searchable: this.bool(o["searchable"], `${at}.searchable`),
      ...(o["searchWeight"] !== undefined
        ? { searchWeight: this.weight(o["searchWeight"], `${at}.searchWeight`) }
        : {}),
      ...(o["inheritAccess"] !== undefined && this.bool(o["inheritAccess"], `${at}.inheritAccess`)
        ? { inheritAccess: true as const }
        : {}),
      deprecated: this.bool(o["deprecated"], `${at}.deprecated`),
      ...(def === undefined ? {} : { default: this.defaultValue(def, `${at}.default`) }),
    };
  }

  fieldType(value: unknown, at: string): FieldType {
    const o = this.object(value, at);
    if (o["kind"] === "list") {
      this.keys(o, at, ["kind", "element"]);
      return { kind: "list", element: this.elementType(o["element"], `${at}.element`) };
    }
    return this.elementType(o, at, true);
  }

  /** `listAllowed` only changes the message: a list's element cannot be a list. */
  elementType(value: unknown, at: string, listAllowed = false): ElementType {
    const o = this.object(value, at);
    const kind = o["kind"];
    if (kind === "enum") {
      this.keys(o, at, ["kind", "enumName"]);
      return { kind: "enum", enumName: this.string(o["enumName"], `${at}.enumName`) };
    }
    if (kind === "ref") {
      this.keys(o, at, ["kind", "targetId"]);
      return { kind: "ref", targetId: this.int(o["targetId"], `${at}.targetId`, 1, MAX_ID) };
    }
    this.keys(o, at, ["kind"]);
    const scalars: readonly string[] = SCALAR_KINDS;
    const expected = [...SCALAR_KINDS, "enum", "ref", ...(listAllowed ? ["list"] : [])];
    if (typeof kind !== "string" || !scalars.includes(kind)) {
      this.fail(`${at}.kind`, `one of ${expected.map((k) => JSON.stringify(k)).join(", ")}`, kind);
    }
    return { kind: kind as ScalarKind };
  }

  defaultValue(value: unknown, at: string): DefaultValue {
    const o = this.object(value, at);
    this.keys(o, at, ["kind", "value"]);
    const kind = this.oneOf(o["kind"], `${at}.kind`, DEFAULT_KINDS);
    const v = o["value"];
    switch (kind) {
      case "int": {
        const text = this.string(v, `${at}.value`);
        if (!/^-?(0|[1-9][0-9]*)$/.test(text))
          this.fail(`${at}.value`, "a decimal integer string", v);
        const n = BigInt(text);
        if (n < INT64_MIN || n > INT64_MAX) this.fail(`${at}.value`, "a 64-bit integer", v);
        return { kind, value: n };
      }
      case "float":
        if (typeof v !== "number") this.fail(`${at}.value`, "a number", v);
        return { kind, value: v as number };
      case "bool":
        return { kind, value: this.bool(v, `${at}.value`) };
      default:
        return { kind, value: this.string(v, `${at}.value`) };
    }
  }

  composites(value: unknown, at: string): CompositeConstraint[] {
    return this.array(value, at).map((c, i) => {
      const ids = this.array(c, `${at}[${i}]`).map((id, j) =>
        this.int(id, `${at}[${i}][${j}]`, 1, MAX_ID),
      );
      if (ids.length < 2) this.fail(`${at}[${i}]`, "two or more field ids", c);
      return { fieldIds: ids };
    });
  }

  enumType(value: unknown, at: string): EnumType {
    const o = this.object(value, at);
    this.keys(o, at, ["name", "values", "reservedNumbers", "reservedNames", "retiredNumbers"]);
    const values = this.array(o["values"], `${at}.values`).map((v, i): EnumValue => {
      const vo = this.object(v, `${at}.values[${i}]`);
      this.keys(vo, `${at}.values[${i}]`, ["number", "name", "deprecated"]);
      return {
        number: this.int(vo["number"], `${at}.values[${i}].number`, 1, MAX_ENUM_NUMBER),
        name: this.string(vo["name"], `${at}.values[${i}].name`),
        deprecated: this.bool(vo["deprecated"], `${at}.values[${i}].deprecated`),
      };
    });
    return {
      name: this.string(o["name"], `${at}.name`),
      values: values.sort((a, b) => a.number - b.number),
      reservedNumbers: this.ranges(o["reservedNumbers"], `${at}.reservedNumbers`, MAX_ENUM_NUMBER),
      reservedNames: this.strings(o["reservedNames"], `${at}.reservedNames`),
      ...this.retired(o, "retiredNumbers", `${at}.`, MAX_ENUM_NUMBER),
    };
  }

  ranges(value: unknown, at: string, max: number): IdRange[] {
    return this.array(value, at).map((r, i) => {
      const o = this.object(r, `${at}[${i}]`);
      this.keys(o, `${at}[${i}]`, ["first", "last"]);
      const first = this.int(o["first"], `${at}[${i}].first`, 1, max);
      const last = this.int(o["last"], `${at}[${i}].last`, first, max);
      return { first, last };
    });
  }

  /** An optional tombstone list: absent means none (see `Schema.retiredIds`). */
  retired<K extends string>(
    o: JsonObject,
    key: K,
    prefix: string,
    max: number,
  ): { [P in K]?: IdRange[] } {
    if (o[key] === undefined) return {};
    return { [key]: this.ranges(o[key], `${prefix}${key}`, max) } as { [P in K]?: IdRange[] };
  }

  fingerprint(value: unknown, at: string): string {
    const text = this.string(value, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(text)) this.fail(at, '"sha256:" and 64 hex digits', value);
    return text;
  }

  object(value: unknown, at: string): JsonObject {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(at, "an object", value);
    }
    return value as JsonObject;
  }

  array(value: unknown, at: string): readonly unknown[] {
    if (!Array.isArray(value)) this.fail(at, "an array", value);
    return value as readonly unknown[];
  }

  strings(value: unknown, at: string): string[] {
    return this.array(value, at)
      .map((s, i) => this.string(s, `${at}[${i}]`))
      .sort();
  }

  string(value: unknown, at: string): string {
    if (typeof value !== "string") this.fail(at, "a string", value);
    return value as string;
  }

  bool(value: unknown, at: string): boolean {
    if (typeof value !== "boolean") this.fail(at, "true or false", value);
    return value as boolean;
  }

  /** A search weight other than the default 1, in the range the compiler allows. */
  weight(value: unknown, at: string): number {
    if (typeof value !== "number" || !(value >= 0.01 && value <= 1000) || value === 1) {
      this.fail(at, "a number from 0.01 to 1000 other than 1", value);
    }
    return value as number;
  }

  int(value: unknown, at: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail(at, `an integer from ${min} to ${max}`, value);
    }
    return value as number;
  }

  oneOf<T extends string>(value: unknown, at: string, allowed: readonly T[]): T {
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      this.fail(at, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
    }
    return value as T;
  }

  /** Rejects unknown keys: a typo in a hand-edited lock should not pass silently. */
  keys(o: JsonObject, at: string, allowed: readonly string[]): void {
    for (const key of Object.keys(o)) {
      if (!allowed.includes(key)) {
        throw new LockFileError(
          "LOCK_INVALID_SHAPE",
          this.#path,
          `unexpected key ${JSON.stringify(key)} in ${at}.`,
        );
      }
    }
  }

  fail(at: string, expected: string, got: unknown): never {
    const shown = got === undefined ? "nothing" : (JSON.stringify(got) ?? String(got));
    const short = shown.length > 40 ? `${shown.slice(0, 37)}...` : shown;
    throw new LockFileError(
      "LOCK_INVALID_SHAPE",
      this.#path,
      `${at}: expected ${expected}, got ${short}.`,
    );
  }
}

/** The checks the compiler would have made, limited to what later stages rely on. */
function checkConsistency(schema: Schema, path: string): void {
  const fail = (message: string): never => {
    throw new LockFileError("LOCK_INVALID_MODEL", path, message);
  };
  const typeIds = new Map<number, string>();
  for (const t of [...schema.nodes, ...schema.edges]) {
    const other = typeIds.get(t.id);
    if (other !== undefined) fail(`type id ${t.id} is used by both '${other}' and '${t.name}'.`);
    typeIds.set(t.id, t.name);
  }
  const nodeIds = new Set(schema.nodes.map((n) => n.id));
  const enumNames = new Set<string>();
  for (const e of schema.enums) {
    if (enumNames.has(e.name)) fail(`enum '${e.name}' is declared twice.`);
    enumNames.add(e.name);
    const numbers = new Set<number>();
    for (const v of e.values) {
      if (numbers.has(v.number)) fail(`enum '${e.name}' uses number ${v.number} twice.`);
      numbers.add(v.number);
    }
  }
  const checkElement = (t: ElementType, where: string): void => {
    if (t.kind === "ref" && !nodeIds.has(t.targetId)) {
      fail(`${where} refers to node type id ${t.targetId}, which is not in the lock.`);
    }
    if (t.kind === "enum" && !enumNames.has(t.enumName)) {
      fail(`${where} uses enum '${t.enumName}', which is not in the lock.`);
    }
  };
  const checkFields = (owner: NodeType | EdgeType): void => {
    const ids = new Set<number>();
    for (const f of owner.fields) {
      const where = `field '${owner.name}.${f.name}'`;
      if (ids.has(f.id)) fail(`type '${owner.name}' uses field id ${f.id} twice.`);
      ids.add(f.id);
      checkElement(f.type.kind === "list" ? f.type.element : f.type, where);
    }
    if ("uniques" in owner) {
      for (const c of [...owner.uniques, ...owner.indexes]) {
        for (const id of c.fieldIds) {
          if (!ids.has(id))
            fail(`a composite of '${owner.name}' names field id ${id}, which it lacks.`);
        }
      }
    }
  };
  for (const n of schema.nodes) checkFields(n);
  for (const e of schema.edges) {
    for (const end of [e.fromId, e.toId]) {
      if (!nodeIds.has(end))
        fail(`edge '${e.name}' connects node type id ${end}, which is not in the lock.`);
    }
    checkFields(e);
  }
}
