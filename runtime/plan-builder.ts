/**
 * Builds an atomic write plan: an ordered list of operations that commit together or
 * not at all. A node created in the plan gets an alias (`$a1`, `$a2`, …) and a handle;
 * passing the handle where a ref or an edge endpoint is expected later in the same plan
 * sends the alias, which the server resolves to the minted id before the plan is logged.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { OperationSchema, PreconditionSchema } from "../generated/entdb/v1/plan_pb.js";
import type { ValueSchema } from "../generated/entdb/v1/values_pb.js";
import type { IdOf } from "./node-id.ts";

/** An operation as the API takes it. */
export type OperationInit = MessageInitShape<typeof OperationSchema>;
/** A field value as the API takes it. */
export type ValueInit = MessageInitShape<typeof ValueSchema>;
/** A precondition as the API takes it. */
export type PreconditionInit = MessageInitShape<typeof PreconditionSchema>;

/**
 * Stands for a node created earlier in the same plan, until the plan has run. Only
 * the plan that made it accepts it: a handle is not an id.
 */
export class NodeHandle<TType extends string> {
  /** The `$alias` the plan sends in place of the id. */
  readonly alias: string;
  /** The node type's name, e.g. `Task`; ties a handle to the refs that accept it. */
  readonly typeName: TType;
  readonly typeId: number;
  /** The create step's index in the plan; its result carries the minted id. */
  readonly operationIndex: number;
  // A private field makes the class nominal, so a look-alike object is not a handle.
  readonly #plan: PlanBuilder;

  constructor(
    plan: PlanBuilder,
    alias: string,
    typeName: TType,
    typeId: number,
    operationIndex: number,
  ) {
    this.#plan = plan;
    this.alias = alias;
    this.typeName = typeName;
    this.typeId = typeId;
    this.operationIndex = operationIndex;
  }

  /** Whether `plan` created this handle. */
  belongsTo(plan: PlanBuilder): boolean {
    return this.#plan === plan;
  }
}

/** A node id, or, inside a plan, the handle of a node of type `TType` created earlier in it. */
export type Ref<TType extends string> = IdOf<TType> | NodeHandle<TType>;

/** Where an id is expected: an id, a handle, or anything with an `id` (a read node, a write result). */
export type NodeIdInput = string | NodeHandle<string> | { readonly id: string };

/** Collects the operations of one plan. Not reusable: run it once. */
export class PlanBuilder {
  readonly #operations: OperationInit[] = [];
  #aliases = 0;

  /** The operations so far, in order. */
  get operations(): readonly OperationInit[] {
    return this.#operations;
  }

  /**
   * Adds a create step and returns the handle of the node it will create. With
   * `ifAbsentOn` (the field ids of one unique key), the step resolves to an existing
   * node with the same values instead, and the handle stands for that node.
   */
  createNode<TType extends string>(
    typeId: number,
    typeName: TType,
    fields: { readonly [fieldId: number]: ValueInit },
    ifAbsentOn: readonly number[] = [],
  ): NodeHandle<TType> {
    this.#aliases += 1;
    const alias = `$a${this.#aliases}`;
    const handle = new NodeHandle(this, alias, typeName, typeId, this.#operations.length);
    this.#operations.push({
      op: {
        case: "createNode",
        value: {
          typeId,
          alias: alias.slice(1),
          fields,
          ...(ifAbsentOn.length === 0 ? {} : { ifAbsentOn: [...ifAbsentOn] }),
        },
      },
    });
    return handle;
  }

  /** Adds an update step: `set` values, `clear` field ids. */
  updateNode(
    typeId: number,
    id: NodeIdInput,
    set: { readonly [fieldId: number]: ValueInit },
    clear: readonly number[],
    precondition?: PreconditionInit,
  ): void {
    this.#operations.push({
      op: {
        case: "updateNode",
        value: {
          typeId,
          id: this.resolveId(id, typeId, "the node to update"),
          set,
          clear: [...clear],
          ...(precondition === undefined ? {} : { precondition }),
        },
      },
    });
  }

  /** Adds a delete step; the server also removes every edge from or to the node. */
  deleteNode(typeId: number, id: NodeIdInput, precondition?: PreconditionInit): void {
    this.#operations.push({
      op: {
        case: "deleteNode",
        value: {
          typeId,
          id: this.resolveId(id, typeId, "the node to delete"),
          ...(precondition === undefined ? {} : { precondition }),
        },
      },
    });
  }

  /** Adds a link step; linking an existing edge replaces its properties. */
  createEdge(
    edgeTypeId: number,
    endpoints: { readonly from: NodeIdInput; readonly fromType: number },
    to: { readonly to: NodeIdInput; readonly toType: number },
    props: { readonly [fieldId: number]: ValueInit },
  ): void {
    this.#operations.push({
      op: {
        case: "createEdge",
        value: {
          edgeTypeId,
          fromId: this.resolveId(endpoints.from, endpoints.fromType, "the edge's from node"),
          toId: this.resolveId(to.to, to.toType, "the edge's to node"),
          props,
        },
      },
    });
  }

  /** Adds an unlink step (a no-op when the edge does not exist). */
  deleteEdge(
    edgeTypeId: number,
    endpoints: { readonly from: NodeIdInput; readonly fromType: number },
    to: { readonly to: NodeIdInput; readonly toType: number },
  ): void {
    this.#operations.push({
      op: {
        case: "deleteEdge",
        value: {
          edgeTypeId,
          fromId: this.resolveId(endpoints.from, endpoints.fromType, "the edge's from node"),
          toId: this.resolveId(to.to, to.toType, "the edge's to node"),
        },
      },
    });
  }

  /**
   * The wire form of an id: the id itself, or `$alias` for a handle of this plan.
   * Throws `TypeError` for a handle of another plan or of the wrong node type, and for
   * anything that is not an id.
   */
  resolveId(id: NodeIdInput, expectedTypeId: number, what: string): string {
    if (typeof id === "string") {
      if (id === "") throw new TypeError(`${capitalize(what)} needs an id; got an empty string.`);
      return id;
    }
    if (id instanceof NodeHandle) {
      if (!id.belongsTo(this)) {
        throw new TypeError(
          `${capitalize(what)} is a handle (${id.alias}) from another plan; ` +
            "a handle is only valid in the plan that created it.",
        );
      }
      if (id.typeId !== expectedTypeId) {
        throw new TypeError(
          `${capitalize(what)} must be a node of type id ${expectedTypeId}; ` +
            `handle ${id.alias} is a '${id.typeName}'.`,
        );
      }
      return id.alias;
    }
    if (typeof id === "object" && id !== null && typeof id.id === "string" && id.id !== "") {
      return id.id;
    }
    throw new TypeError(`${capitalize(what)} must be an id string; got ${describe(id)}.`);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A short description of an unexpected value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  if (value instanceof Uint8Array) return "a Uint8Array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `the bigint ${value}n`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  return typeof value === "object" ? "an object" : typeof value;
}
