/**
 * Turns an applied WAL event into the changes a subscription may deliver: one per step
 * of a plan that committed, none for a rejected plan, a duplicate of an earlier key, a
 * membership change or a schema change. Whether a plan committed is read from its
 * recorded outcome (the one at the event's own position), so history read back from the
 * log and events handed over live by the applier give the same changes.
 */

import { create } from "@bufbuild/protobuf";
import {
  type Change,
  ChangeKind,
  ChangeSchema,
  EdgeSchema,
  type SubscribeRequest,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import { edgeById, nodeById, type Schema } from "../../schema/index.ts";
import type { PlanOutcome } from "../engine.ts";
import type { WalPosition } from "../wal/wal.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";

/** Most filters one subscription takes. */
export const MAX_CHANGE_FILTERS = 100;

/**
 * What a subscription selects; empty sets select nothing of their kind, and `all`
 * selects every change. `mailbox`, when set, is the recipient whose mailbox's nodes
 * are selected (the handler checks it is the caller).
 */
export interface ChangeSelection {
  readonly all: boolean;
  readonly nodeTypes: ReadonlySet<number>;
  readonly nodeIds: ReadonlySet<string>;
  readonly edgeTypes: ReadonlySet<number>;
  readonly mailbox?: string;
}

/** Checks a request's filters against the schema (INVALID_ARGUMENT naming the bad one). */
export function selectionOf(request: SubscribeRequest, schema: Schema): ChangeSelection {
  if (request.filters.length > MAX_CHANGE_FILTERS) {
    throw invalidArgument(
      `A subscription takes at most ${MAX_CHANGE_FILTERS} filters, got ${request.filters.length}; subscribe to fewer, or to a type instead of many nodes.`,
    );
  }
  const nodeTypes = new Set<number>();
  const nodeIds = new Set<string>();
  const edgeTypes = new Set<number>();
  let mailbox: string | undefined;
  request.filters.forEach((filter, i) => {
    const kind = filter.kind;
    switch (kind.case) {
      case "nodeTypeId":
        if (!nodeById(schema, kind.value))
          throw invalidArgument(
            `\`filters[${i}].node_type_id\` is ${kind.value}, but the schema has no node type with that id.`,
          );
        nodeTypes.add(kind.value);
        break;
      case "nodeId":
        if (kind.value === "")
          throw invalidArgument(`\`filters[${i}].node_id\` is empty; name a node id.`);
        nodeIds.add(kind.value);
        break;
      case "edgeTypeId":
        if (!edgeById(schema, kind.value))
          throw invalidArgument(
            `\`filters[${i}].edge_type_id\` is ${kind.value}, but the schema has no edge type with that id.`,
          );
        edgeTypes.add(kind.value);
        break;
      case "mailbox":
        if (kind.value === "" || (mailbox !== undefined && mailbox !== kind.value))
          throw invalidArgument(
            `\`filters[${i}].mailbox\` must name the caller's own principal, once.`,
          );
        mailbox = kind.value;
        break;
      default:
        throw invalidArgument(
          `\`filters[${i}]\` sets nothing; set node_type_id, node_id, edge_type_id or mailbox.`,
        );
    }
  });
  return {
    all: request.filters.length === 0,
    nodeTypes,
    nodeIds,
    edgeTypes,
    ...(mailbox === undefined ? {} : { mailbox }),
  };
}

/**
 * True if the selection takes `change`; `inMailbox` says whether a node is in the
 * selection's mailbox now (asked only for a selection with one).
 */
export function matches(
  selection: ChangeSelection,
  change: Change,
  inMailbox: (nodeId: string) => boolean = () => false,
): boolean {
  if (selection.all) return true;
  if (change.edge) {
    return (
      selection.edgeTypes.has(change.typeId) ||
      selection.nodeIds.has(change.edge.fromId) ||
      selection.nodeIds.has(change.edge.toId) ||
      (selection.mailbox !== undefined && inMailbox(change.edge.fromId))
    );
  }
  return (
    selection.nodeTypes.has(change.typeId) ||
    selection.nodeIds.has(change.nodeId) ||
    (selection.mailbox !== undefined && inMailbox(change.nodeId))
  );
}

/**
 * The changes of `event` at `position`, before access filtering (`node` unset), given
 * the outcome recorded under its idempotency key.
 */
export function changesOf(
  event: WalEvent,
  position: WalPosition,
  outcome: PlanOutcome | undefined,
): Change[] {
  if (event.body.case !== "plan") return [];
  if (
    outcome === undefined ||
    outcome.failure !== undefined ||
    outcome.position.partition !== position.partition ||
    outcome.position.offset !== position.offset
  )
    return [];
  const out: Change[] = [];
  event.body.value.operations.forEach((operation, index) => {
    const op = operation.op;
    const result = outcome.results[index];
    switch (op.case) {
      case "createNode":
        if (result?.created)
          out.push(nodeChange(ChangeKind.NODE_CREATED, index, op.value.typeId, result.id));
        break;
      case "updateNode":
        out.push(
          nodeChange(ChangeKind.NODE_UPDATED, index, op.value.typeId, result?.id ?? op.value.id),
        );
        break;
      case "deleteNode":
        out.push(
          nodeChange(ChangeKind.NODE_DELETED, index, op.value.typeId, result?.id ?? op.value.id),
        );
        break;
      case "createEdge":
      case "deleteEdge": {
        const { edgeTypeId, fromId, toId } = op.value;
        out.push(
          create(ChangeSchema, {
            kind: op.case === "createEdge" ? ChangeKind.EDGE_CREATED : ChangeKind.EDGE_DELETED,
            operationIndex: index,
            typeId: edgeTypeId,
            edge: create(EdgeSchema, {
              edgeTypeId,
              fromId,
              toId,
              props: op.case === "createEdge" ? op.value.props : {},
            }),
          }),
        );
        break;
      }
      default:
        break;
    }
  });
  return out;
}

function nodeChange(kind: ChangeKind, index: number, typeId: number, nodeId: string): Change {
  return create(ChangeSchema, { kind, operationIndex: index, typeId, nodeId });
}
