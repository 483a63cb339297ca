/**
 * The state of one plan being applied, shared by the node, edge and check steps: the
 * context, the index of the operation in hand (for rejections), the `if_absent_on`
 * redirects, and the lookups and value encoding every step needs.
 */

import type { Operation, OperationResult } from "../../generated/entdb/v1/plan_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { type Field, type NodeType, nodeById, type Schema } from "../../schema/served.ts";
import { type JsonValue, rawNumber } from "../store/lossless-json.ts";
import { NODE_COLUMNS, type NodeRow } from "../store/row-codec.ts";
import { StoreError } from "../store/store-error.ts";
import { encodeValue, type FieldPlace } from "../store/stored-value-codec.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import { PlanRejection } from "./plan-rejection.ts";

const NODE_BY_ID = `SELECT ${NODE_COLUMNS} FROM nodes WHERE id = ?`;

/**
 * Where a node field's value sits, as the codec names it in messages: made once per
 * field of a type rather than once per value written (a string and an object per field
 * of every create). Keyed by the field; the type's id is checked too, so the place is
 * right even where a model shares one field object between types.
 */
const nodeFieldPlaces = new WeakMap<
  Field,
  { readonly typeId: number; readonly place: FieldPlace }
>();

function nodeFieldPlace(type: NodeType, field: Field): FieldPlace {
  const known = nodeFieldPlaces.get(field);
  if (known !== undefined && known.typeId === type.id) return known.place;
  const place = { owner: `type ${type.id}`, fieldId: field.id };
  nodeFieldPlaces.set(field, { typeId: type.id, place });
  return place;
}

/** What a plan is applied with. */
export interface PlanContext {
  readonly db: TenantDb;
  /** The model of the event's schema version (what ingress validated it against). */
  readonly schema: Schema;
  /** The authenticated actor; becomes the owner of created nodes. */
  readonly actor: string;
  /** The event's ingress time in microseconds; every timestamp the plan writes. */
  readonly nowMicros: bigint;
  /**
   * Inside an optimistic run of the applier, where any throw rolls the run back and
   * applies it again event by event: a create's node row may be held and written later
   * with others (server/store/held-rows.ts), its failure thrown then.
   */
  readonly holdRows?: boolean;
  /**
   * Decides, before an operation runs, whether the actor may make it (access-ops.ts);
   * throws the rejection. Absent for events logged in dev mode.
   */
  readonly checkOperation?: ((run: PlanRun, operation: Operation) => void) | undefined;
}

/**
 * One plan's run. Lives for one `executePlan` call; the steps read and write it in
 * operation order, so it assumes no concurrent use.
 */
export class PlanRun {
  readonly ctx: PlanContext;
  readonly db: TenantDb;
  /** Minted ids of `if_absent_on` creates that resolved to an existing node; made at the first. */
  #redirects: Map<string, string> | undefined;
  /** The index of the operation being applied; every rejection names it. */
  index = 0;

  constructor(ctx: PlanContext) {
    this.ctx = ctx;
    this.db = ctx.db;
  }

  /** The id a step names, redirected if an earlier `if_absent_on` create resolved it. */
  resolve(id: string): string {
    return this.#redirects?.get(id) ?? id;
  }

  /** Redirects the minted id `from` of an `if_absent_on` create to the node it resolved to. */
  redirect(from: string, to: string): void {
    this.#redirects ??= new Map();
    this.#redirects.set(from, to);
  }

  /** The node row with `id`, of any type. */
  nodeRow(id: string): NodeRow | undefined {
    return this.db.stmt(NODE_BY_ID).get(id) as NodeRow | undefined;
  }

  /** The node row with `id` and type `typeId`; otherwise rejects with not_found. */
  nodeRowOfType(id: string, typeId: number): NodeRow {
    const row = this.nodeRow(id);
    if (!row || Number(row.type_id) !== typeId) {
      throw this.reject(
        "not_found",
        "NOT_FOUND",
        `No node of type ${typeId} has id ${JSON.stringify(id)}.`,
        { typeId },
      );
    }
    return row;
  }

  /** The node type `typeId` of the event's schema; otherwise rejects with UNKNOWN_TYPE. */
  nodeType(typeId: number): NodeType {
    const type = nodeById(this.ctx.schema, typeId);
    if (!type) {
      throw this.reject(
        "invalid_argument",
        "UNKNOWN_TYPE",
        `The schema has no node type with id ${typeId}.`,
        { typeId },
      );
    }
    return type;
  }

  /** Field `fieldId` of `type`; otherwise rejects with UNKNOWN_FIELD. */
  field(type: NodeType, fieldId: number): Field {
    // A loop, not `find`: this runs once per field of every step, and the callback
    // would be a closure made per call.
    let field: Field | undefined;
    for (const f of type.fields) {
      if (f.id === fieldId) {
        field = f;
        break;
      }
    }
    if (!field) {
      throw this.reject(
        "invalid_argument",
        "UNKNOWN_FIELD",
        `Type ${type.id} has no field ${fieldId}.`,
        {
          typeId: type.id,
          fieldId,
        },
      );
    }
    return field;
  }

  /** Encodes a node field value, redirecting refs to nodes an `if_absent_on` resolved. */
  encode(type: NodeType, field: Field, value: Value): JsonValue | null {
    return this.#encodeAt(nodeFieldPlace(type, field), type.id, field, value);
  }

  /**
   * What {@link encode} gives for a value of `kind` (a {@link LeanCreateNode}'s) where it is
   * the value itself or its number text: a string or a non-empty ref in a field of its kind,
   * a bool, an int. Undefined for every other case (an enum, whose number is checked
   * against the schema; a kind the field does not take; an empty ref): then {@link encode}
   * decides, with its messages.
   */
  encodePlain(field: Field, kind: unknown, value: unknown): JsonValue | undefined {
    switch (field.type.kind) {
      case "string":
        return kind === "stringValue" ? (value as string) : undefined;
      case "bool":
        return kind === "boolValue" ? (value as boolean) : undefined;
      case "int":
        return kind === "intValue" ? rawNumber((value as bigint).toString()) : undefined;
      case "ref":
        if (kind !== "refValue" || value === "") return undefined;
        return this.#redirects === undefined ? (value as string) : this.resolve(value as string);
      default:
        return undefined;
    }
  }

  /**
   * Encodes a field or property value of `owner` (named in messages); a value the
   * codec refuses becomes an INVALID_VALUE rejection.
   */
  encodeIn(owner: string, typeId: number, field: Field, value: Value): JsonValue | null {
    return this.#encodeAt({ owner, fieldId: field.id }, typeId, field, value);
  }

  #encodeAt(place: FieldPlace, typeId: number, field: Field, value: Value): JsonValue | null {
    let json: JsonValue | null;
    try {
      json = encodeValue(this.ctx.schema, field.type, value, place);
    } catch (err) {
      if (err instanceof StoreError && err.code === "invalid-argument") {
        throw this.reject("invalid_argument", "INVALID_VALUE", err.message, {
          typeId,
          fieldId: field.id,
        });
      }
      throw err;
    }
    if (this.#redirects === undefined || json === null) return json;
    const t = field.type;
    if (t.kind === "ref" && typeof json === "string") return this.resolve(json);
    if (t.kind === "list" && t.element.kind === "ref" && Array.isArray(json)) {
      return (json as JsonValue[]).map((v) => (typeof v === "string" ? this.resolve(v) : v));
    }
    return json;
  }

  /** The UNIQUE_VIOLATION rejection for a clash on `fieldIds` of type `typeId`. */
  uniqueViolation(typeId: number, fieldIds: readonly number[]): PlanRejection {
    return this.reject(
      "already_exists",
      "UNIQUE_VIOLATION",
      fieldIds.length === 1
        ? `Another node of type ${typeId} has the same value of unique field ${fieldIds[0]}.`
        : `Another node of type ${typeId} has the same values of unique fields [${fieldIds.join(", ")}].`,
      { typeId, fieldId: fieldIds[0]! },
    );
  }

  /** A rejection of the operation in hand. */
  reject(
    code: PlanRejection["code"],
    reason: ConstructorParameters<typeof PlanRejection>[1],
    message: string,
    at: { readonly typeId?: number; readonly fieldId?: number },
  ): PlanRejection {
    return new PlanRejection(code, reason, message, { operationIndex: this.index, ...at });
  }
}

/** The result of one operation. */
export function result(id: string, created: boolean, version: bigint): OperationResult {
  // A literal, not `create`: every field is given, and `create` walks them (one per step).
  return { $typeName: "entdb.v1.OperationResult", id, created, version };
}

/** The keys of a field-id map in ascending order, the order every check runs in. */
export function sortedKeys(map: { readonly [key: number]: unknown }): number[] {
  // Integer keys already come in ascending order (ECMAScript's own-keys order for array
  // indices); the check keeps the function right for any key it might be given.
  const keys = Object.keys(map);
  const out = new Array<number>(keys.length);
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    out[i] = Number(keys[i]);
    if (i > 0 && out[i]! < out[i - 1]!) ordered = false;
  }
  return ordered ? out : out.sort((a, b) => a - b);
}
