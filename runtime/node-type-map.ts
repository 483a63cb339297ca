/**
 * The node types of a client by accessor name, as results that span types see them:
 * `db.search` hits and `db.mailbox` items are discriminated unions keyed by `type`, one
 * member per entry of such a map, plus one for a node of a type the client does not know.
 * A generated client passes its `NodeTypes` / `SearchableNodeTypes` interfaces; a client
 * without them (the untyped core, `ClientBase<unknown>`) gets {@link UntypedNodeTypes}.
 */

/** A node decoded without a generated type: its id and its properties by name. */
export interface UntypedNode {
  readonly id: string;
  readonly [property: string]: unknown;
}

/** The node types of a client that has no generated types: any accessor name, any node. */
export interface UntypedNodeTypes {
  readonly [type: string]: UntypedNode;
}

/**
 * The `type` of a result whose node is of a type the client does not know (a newer
 * schema on the server): `type 42`, by type id. Accessor names never contain a space,
 * so `hit.type === "task"` tells a known type from these.
 */
export type UnknownTypeName = `type ${number}`;

/** The node of a type the client does not know: only its id can be read. */
export interface UnknownNode {
  readonly id: string;
}

/** The accessor names of a node type map. */
export type TypeNameOf<TNodes> = keyof TNodes & string;
