/**
 * Typed node ids. At run time an id is a plain string (the wire does not change); the
 * type carries the node type's name as a phantom brand, so an id or a node read from
 * one type is a compile error where another type is expected:
 *
 * ```ts
 * const team = await db.team.get(teamId);
 * await db.assignedTo.link(task, team); // error: 'Id<"Team">' is not assignable to 'Id<"User">'
 * ```
 *
 * The brand is optional, so a plain `string` (a URL parameter, a value from another
 * system) is accepted wherever an id is expected: its type is unknown until the server
 * checks it. Only ids whose type the client knows — from a read, a write result, a ref
 * field, an edge end — are checked at compile time.
 */

declare const nodeType: unique symbol;

/**
 * The id of a node of type `TType` (e.g. `Id<"User">`): a string at run time. A plain
 * string is assignable to it; an `Id` of another node type is not.
 */
export type Id<TType extends string> = string & { readonly [nodeType]?: TType | undefined };

/**
 * `Id<TType>`, or a plain string when the type is not known (`TType` is `string`, as
 * in clients without generated types), so untyped ids stay interchangeable.
 */
export type IdOf<TType extends string> = string extends TType ? string : Id<TType>;

/** The node type name an id type carries (`string` for a plain string). */
export type TypeOfId<TId> = TId extends { readonly [nodeType]?: infer T extends string | undefined }
  ? [Exclude<T, undefined>] extends [never]
    ? string
    : Exclude<T, undefined>
  : string;

/** The node type name of a node shape, from its `id` (`string` when untyped). */
export type TypeOfNode<TNode> = TNode extends { readonly id: infer TId } ? TypeOfId<TId> : string;

/** Where a node of type `TType` is expected: its id, or anything that carries one (a node you read, a write result). */
export type NodeId<TType extends string = string> = IdOf<TType> | { readonly id: IdOf<TType> };

/**
 * Types an id the server returned for a node of type `TType`. The runtime's one place
 * that adds a brand: a plain string is already assignable to a concrete `Id<"User">`,
 * but not to `Id<TType>` while `TType` is a type parameter.
 */
export function typedId<TType extends string>(id: string): IdOf<TType> {
  // Sound: the caller got `id` from a step or read of type `TType`; only the type changes.
  return id as IdOf<TType>;
}
