/**
 * Compares node and edge types between two versions. Both kinds share one id space,
 * so they are matched together: an id that changes from a node to an edge is caught.
 */

import { type EdgeType, type NodeType, nodeById, type Schema } from "../model.ts";
import { compareComposites, compareFields } from "./compare-fields.ts";
import type { CompatContext } from "./compat-context.ts";
import { compatMessages as msg, type TypeLabel, typeSubject } from "./compat-messages.ts";
import { matchById } from "./match-by-id.ts";

type TypeEntry =
  | { readonly kind: "node"; readonly type: NodeType }
  | { readonly kind: "edge"; readonly type: EdgeType };

/** Compares every node and edge type, and the top-level reservations. */
export function compareTypes(ctx: CompatContext): void {
  const { oldSchema, newSchema } = ctx;
  const m = matchById<TypeEntry>({
    oldItems: entries(oldSchema),
    newItems: entries(newSchema),
    oldReserved: oldSchema.reservedIds,
    newReserved: newSchema.reservedIds,
    oldRetired: oldSchema.retiredIds,
    idOf: (e) => e.type.id,
    nameOf: (e) => e.type.name,
    kindOf: (e) => e.kind,
  });
  for (const { old, new: e } of m.moved) {
    ctx.report(msg.typeIdChanged(label(e), old.type.id), e.type.span);
  }
  for (const { old, new: e } of m.kindChanged) {
    ctx.report(msg.typeIdKindChanged(label(old), label(e)), e.type.span);
  }
  for (const e of m.added) ctx.report(msg.typeAdded(label(e)), e.type.span);
  for (const e of m.reused) {
    ctx.report(msg.reservedIdReused(typeSubject(label(e)), "type id", e.type.id), e.type.span);
  }
  for (const e of m.reusedRetired) {
    ctx.report(msg.retiredIdReused(typeSubject(label(e)), "type id", e.type.id), e.type.span);
  }
  for (const e of m.removed) ctx.report(msg.typeRemoved(label(e)), undefined);
  for (const e of m.retired) ctx.report(msg.typeRetired(label(e)), undefined);
  if (m.reservationsRemoved.length > 0) {
    ctx.report(msg.reservationRemoved("The schema", "type id", m.reservationsRemoved), undefined);
  }
  if (m.reservationsAdded.length > 0) {
    ctx.report(msg.reservationAdded("The schema", "type id", m.reservationsAdded), undefined);
  }
  for (const { old, new: e } of m.pairs) {
    if (old.kind === "node" && e.kind === "node") compareNode(ctx, old.type, e.type);
    else if (old.kind === "edge" && e.kind === "edge") compareEdge(ctx, old.type, e.type);
  }
}

function entries(schema: Schema): TypeEntry[] {
  return [
    ...schema.nodes.map((type): TypeEntry => ({ kind: "node", type })),
    ...schema.edges.map((type): TypeEntry => ({ kind: "edge", type })),
  ];
}

function label(e: TypeEntry): TypeLabel {
  return { kind: e.kind, id: e.type.id, name: e.type.name };
}

/** How widely each visibility lets a node be read, narrowest first. */
const VISIBILITY_RANK: Readonly<Record<NodeType["visibility"], number>> = {
  private: 0,
  tenant: 1,
  public: 2,
};

function compareNode(ctx: CompatContext, before: NodeType, after: NodeType): void {
  const owner: TypeLabel = { kind: "node", id: after.id, name: after.name };
  const span = after.span;
  if (before.name !== after.name) {
    ctx.report(msg.typeRenamed({ ...owner, name: before.name }, after.name), span);
  }
  if (before.visibility !== after.visibility) {
    // Widening exposes nodes that were written expecting to stay hidden; narrowing hides more.
    const widened = VISIBILITY_RANK[after.visibility] > VISIBILITY_RANK[before.visibility];
    ctx.report(
      widened
        ? msg.visibilityLoosened(owner, before.visibility, after.visibility)
        : msg.visibilityChanged(owner, before.visibility, after.visibility),
      span,
    );
  }
  if (before.deprecated !== after.deprecated) {
    ctx.report(msg.deprecationChanged(typeSubject(owner), after.deprecated), span);
  }
  compareFields(ctx, owner, before, after);
  compareComposites(ctx, owner, before, after);
  if (before.fields.some((f) => f.searchable) && !after.fields.some((f) => f.searchable)) {
    ctx.report(msg.searchRemoved(owner), span);
  }
}

function compareEdge(ctx: CompatContext, before: EdgeType, after: EdgeType): void {
  const owner: TypeLabel = { kind: "edge", id: after.id, name: after.name };
  const span = after.span;
  if (before.name !== after.name) {
    ctx.report(msg.typeRenamed({ ...owner, name: before.name }, after.name), span);
  }
  const nodeName = (schema: Schema, id: number): string => nodeById(schema, id)?.name ?? `#${id}`;
  const ends = [
    ["from", before.fromId, after.fromId],
    ["to", before.toId, after.toId],
  ] as const;
  for (const [end, oldId, newId] of ends) {
    if (oldId !== newId) {
      ctx.report(
        msg.edgeEndpointChanged(
          owner,
          end,
          { name: nodeName(ctx.oldSchema, oldId), id: oldId },
          { name: nodeName(ctx.newSchema, newId), id: newId },
        ),
        span,
      );
    }
  }
  if (before.uniquePerFrom !== after.uniquePerFrom) {
    ctx.report(
      after.uniquePerFrom
        ? msg.uniquePerFromAdded(owner, nodeName(ctx.newSchema, after.fromId))
        : msg.uniquePerFromRemoved(owner),
      span,
    );
  }
  if (before.inverseName !== after.inverseName) {
    ctx.report(msg.edgeInverseChanged(owner, before.inverseName, after.inverseName), span);
  }
  if (before.mailboxFieldId !== after.mailboxFieldId) {
    const fieldName = (id: number | undefined, schema: typeof ctx.oldSchema) =>
      id === undefined
        ? undefined
        : (schema.nodes.find((n) => n.id === after.toId)?.fields.find((f) => f.id === id)?.name ??
          String(id));
    ctx.report(
      msg.edgeMailboxChanged(
        owner,
        fieldName(before.mailboxFieldId, ctx.oldSchema),
        fieldName(after.mailboxFieldId, ctx.newSchema),
      ),
      span,
    );
  }
  if (before.deprecated !== after.deprecated) {
    ctx.report(msg.deprecationChanged(typeSubject(owner), after.deprecated), span);
  }
  compareFields(ctx, owner, before, after);
}
