/**
 * An in-memory `EntDbService` for runtime tests, served through Connect's in-process
 * router transport, so the client's whole stack (interceptors, serialization, error
 * details) runs for real. It keeps what the tests inspect — every request, in order —
 * and fakes just enough of the server: aliases, versions, positions, idempotency keys,
 * unique fields, create-if-absent, version and field preconditions, filters, ordering,
 * edges. Failures are injected per method. It keeps the service contract the real server
 * keeps (service-contract.ts, run against both): a runtime test may lean on the fake
 * only for what that contract checks, or for a failure it injects.
 */

import { clone, create, equals } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createRouterTransport,
  type Transport,
} from "@connectrpc/connect";
import {
  Direction,
  type Edge,
  EdgeSchema,
  EntDbService,
  type ExecutePlanRequest,
  type ExecutePlanResponse,
  ExecutePlanResponseSchema,
  FilterOp,
  type GetNodeRequest,
  type GetNodesRequest,
  type Node,
  NodeSchema,
  type QueryNodesRequest,
  type WriteFailure,
  WriteFailureSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import {
  type Operation,
  OperationSchema,
  type Precondition,
} from "../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";

/** A method of the service, by its local name. */
export type FakeMethod =
  | "executePlan"
  | "getReceipt"
  | "waitForPosition"
  | "getNode"
  | "getNodes"
  | "getNodeByKey"
  | "queryNodes"
  | "listEdges"
  | "traverse";

/** The request message type of each method the tests inspect. */
export interface FakeRequests {
  executePlan: ExecutePlanRequest;
  getNode: GetNodeRequest;
  getNodes: GetNodesRequest;
  queryNodes: QueryNodesRequest;
}

/** One request the fake received. */
export interface RecordedCall {
  readonly method: FakeMethod;
  /** The request message (a protobuf-es message of the method's input type). */
  readonly request: unknown;
  readonly authorization: string | null;
}

/** A unique field the fake enforces. */
export interface FakeUnique {
  readonly typeId: number;
  readonly fieldId: number;
}

interface StepOutcome {
  readonly id: string;
  readonly created: boolean;
  readonly version: bigint;
}

interface Stored {
  id: string;
  typeId: number;
  fields: { [fieldId: number]: Value };
  version: bigint;
}

/**
 * A plan's recorded outcome: its response, or the failure the applier decided; with the
 * plan's steps, so that another plan under the same key is refused.
 */
type Outcome = { readonly operations: readonly Operation[] } & (
  | { readonly response: ExecutePlanResponse; readonly failure?: undefined }
  | { readonly response?: undefined; readonly failure: WriteFailure }
);

/** The fake server and its controls. */
export class FakeEntDb {
  readonly calls: RecordedCall[] = [];
  /** An in-process transport to the fake, with failure injection. */
  readonly transport: Transport;
  /** The fake's routes, to serve it over real HTTP (no failure injection there). */
  readonly routes: (router: ConnectRouter) => void;
  readonly #uniques: readonly FakeUnique[];
  readonly #nodes = new Map<string, Stored>();
  readonly #edges: Edge[] = [];
  readonly #outcomes = new Map<string, Outcome>();
  readonly #failures = new Map<FakeMethod, ConnectError[]>();
  #offset = 0n;
  #ids = 0;
  /** Executes the next N plans, then loses their responses (throws UNAVAILABLE). */
  dropResponses = 0;
  /** Answers the next N plans with `applied: false` and no results (apply still happens). */
  unappliedResponses = 0;

  constructor(options: { readonly uniques?: readonly FakeUnique[] } = {}) {
    this.#uniques = options.uniques ?? [];
    this.routes = (router) => {
      router.service(EntDbService, {
        executePlan: (req, ctx) => {
          this.#record("executePlan", req, ctx.requestHeader);
          return this.#executePlan(req);
        },
        getReceipt: (req, ctx) => {
          this.#record("getReceipt", req, ctx.requestHeader);
          const outcome = this.#outcomes.get(req.idempotencyKey);
          if (outcome === undefined) throw new ConnectError("no such key", Code.NotFound);
          if (outcome.failure !== undefined) {
            return { receipt: { tenant: req.tenant, applied: true }, failure: outcome.failure };
          }
          return { receipt: outcome.response.receipt, results: outcome.response.results };
        },
        waitForPosition: (req, ctx) => {
          this.#record("waitForPosition", req, ctx.requestHeader);
          return { reached: true, applied: { partition: 0, offset: this.#offset } };
        },
        getNode: (req, ctx) => {
          this.#record("getNode", req, ctx.requestHeader);
          const node = this.#nodes.get(req.id);
          if (node === undefined || node.typeId !== req.typeId) {
            throw new ConnectError(`node '${req.id}' does not exist`, Code.NotFound);
          }
          return { node: toNode(node) };
        },
        getNodes: (req, ctx) => {
          this.#record("getNodes", req, ctx.requestHeader);
          const nodes = req.ids
            .map((id) => this.#nodes.get(id))
            .filter((n): n is Stored => n !== undefined && n.typeId === req.typeId);
          return {
            nodes: nodes.map(toNode),
            missingIds: req.ids.filter((id) => !nodes.some((n) => n.id === id)),
          };
        },
        getNodeByKey: (req, ctx) => {
          this.#record("getNodeByKey", req, ctx.requestHeader);
          const node = [...this.#nodes.values()].find(
            (n) =>
              n.typeId === req.typeId &&
              Object.entries(req.key).every(([fid, v]) => sameValue(n.fields[Number(fid)], v)),
          );
          if (node === undefined) throw new ConnectError("no node has that key", Code.NotFound);
          return { node: toNode(node) };
        },
        queryNodes: (req, ctx) => {
          this.#record("queryNodes", req, ctx.requestHeader);
          const nodes = [...this.#nodes.values()].filter(
            (n) =>
              n.typeId === req.typeId &&
              req.filters.every((f) => matches(n.fields[f.fieldId], f.op, f.values)),
          );
          // Ordered by the field asked for (unset first), then in creation order.
          const order = req.orderBy;
          if (order !== undefined) {
            const sign = order.descending ? -1 : 1;
            nodes.sort((a, b) => sign * compare(a.fields[order.fieldId], b.fields[order.fieldId]));
          }
          const limit = req.limit === 0 ? 100 : req.limit;
          const start = req.cursor === "" ? 0 : Number(req.cursor);
          const page = nodes.slice(start, start + limit);
          const next = start + limit < nodes.length ? String(start + limit) : "";
          return { nodes: page.map(toNode), nextCursor: next };
        },
        listEdges: (req, ctx) => {
          this.#record("listEdges", req, ctx.requestHeader);
          const edges = this.#edges.filter(
            (e) =>
              e.edgeTypeId === req.edgeTypeId &&
              (req.direction === Direction.IN ? e.toId : e.fromId) === req.nodeId,
          );
          return {
            edges,
            nextCursor: "",
            ...(req.includeCount ? { totalCount: BigInt(edges.length) } : {}),
          };
        },
      });
    };
    // Injected failures run before the handler, like a proxy that refused the call.
    const inner = createRouterTransport(this.routes);
    this.transport = {
      unary: (method, signal, timeoutMs, header, input, contextValues) => {
        const failure = this.#failures.get(method.localName as FakeMethod)?.shift();
        if (failure !== undefined) {
          this.calls.push({
            method: method.localName as FakeMethod,
            request: input,
            authorization: new Headers(header).get("Authorization"),
          });
          return Promise.reject(failure);
        }
        return inner.unary(method, signal, timeoutMs, header, input, contextValues);
      },
      stream: (...args) => inner.stream(...args),
    };
  }

  /** Makes the next calls of `method` fail with `error`, before reaching the handler. */
  failNext(method: FakeMethod, ...errors: ConnectError[]): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...errors]);
  }

  /** The `index`-th recorded request of `method`; throws when there is none. */
  request<M extends keyof FakeRequests>(method: M, index = 0): FakeRequests[M] {
    const call = this.callsOf(method)[index];
    if (call === undefined) throw new Error(`no ${method} call #${index}`);
    // Calls of `method` record that method's request message.
    return call.request as FakeRequests[M];
  }

  /** The recorded calls of one method. */
  callsOf(method: FakeMethod): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** A stored node's raw field values (for asserting what was written). */
  stored(id: string): { readonly [fieldId: number]: Value } | undefined {
    return this.#nodes.get(id)?.fields;
  }

  #record(method: FakeMethod, request: unknown, header: Headers): void {
    this.calls.push({ method, request, authorization: header.get("Authorization") });
  }

  #executePlan(req: ExecutePlanRequest): ExecutePlanResponse {
    const earlier = this.#outcomes.get(req.idempotencyKey);
    if (earlier !== undefined && !sameSteps(earlier.operations, req.operations))
      throw new ConnectError(
        `Idempotency key '${req.idempotencyKey}' was already used for a different plan.`,
        Code.FailedPrecondition,
      );
    if (earlier?.failure !== undefined) throw errorOf(earlier.failure);
    if (earlier !== undefined) {
      const replay = clone(ExecutePlanResponseSchema, earlier.response);
      if (replay.receipt !== undefined) replay.receipt.replayed = true;
      return replay;
    }
    let results: StepOutcome[];
    try {
      results = this.#apply(req.operations);
    } catch (err) {
      // Like the applier, record a decided failure under the key; a retry gets it again.
      const detail =
        err instanceof ConnectError ? err.findDetails(WriteFailureSchema)[0] : undefined;
      if (detail !== undefined)
        this.#outcomes.set(req.idempotencyKey, { operations: req.operations, failure: detail });
      throw err;
    }
    this.#offset += 1n;
    const response = create(ExecutePlanResponseSchema, {
      receipt: {
        tenant: req.tenant,
        position: { partition: 0, offset: this.#offset },
        applied: true,
        idempotencyKey: req.idempotencyKey,
        replayed: false,
        schemaVersion: 1,
      },
      results,
    });
    this.#outcomes.set(req.idempotencyKey, { operations: req.operations, response });
    if (this.dropResponses > 0) {
      this.dropResponses -= 1;
      throw new ConnectError("connection reset", Code.Unavailable);
    }
    if (this.unappliedResponses > 0) {
      this.unappliedResponses -= 1;
      const unapplied = clone(ExecutePlanResponseSchema, response);
      if (unapplied.receipt !== undefined) unapplied.receipt.applied = false;
      unapplied.results = [];
      return unapplied;
    }
    return response;
  }

  /** Applies all operations or none (it works on copies and commits at the end). */
  #apply(operations: readonly Operation[]): StepOutcome[] {
    const nodes = new Map(
      [...this.#nodes].map(([id, n]) => [id, { ...n, fields: { ...n.fields } }]),
    );
    const edges = [...this.#edges];
    const aliases = new Map<string, string>();
    const resolve = (ref: string): string =>
      ref.startsWith("$") ? (aliases.get(ref.slice(1)) ?? ref) : ref;
    // A ref, or a list's refs, naming an alias of this plan: the id it created.
    const resolveValue = (value: Value): Value => {
      const { kind } = value;
      if (kind.case === "refValue")
        return create(ValueSchema, { kind: { case: "refValue", value: resolve(kind.value) } });
      if (kind.case === "listValue")
        return create(ValueSchema, {
          kind: { case: "listValue", value: { values: kind.value.values.map(resolveValue) } },
        });
      return value;
    };
    const resolveFields = (fields: { readonly [id: number]: Value }) => {
      const out: { [id: number]: Value } = {};
      for (const [id, value] of Object.entries(fields)) out[Number(id)] = resolveValue(value);
      return out;
    };
    const results = operations.map((operation, index) => {
      const op = operation.op;
      switch (op.case) {
        case "createNode": {
          const fields = resolveFields(op.value.fields);
          const { ifAbsentOn } = op.value;
          const existing =
            ifAbsentOn.length === 0
              ? undefined
              : [...nodes.values()].find(
                  (n) =>
                    n.typeId === op.value.typeId &&
                    ifAbsentOn.every((fid) => sameValue(n.fields[fid], fields[fid])),
                );
          if (existing !== undefined) {
            if (op.value.alias !== "") aliases.set(op.value.alias, existing.id);
            return { id: existing.id, created: false, version: existing.version };
          }
          this.#ids += 1;
          const id = `node-${this.#ids}`;
          if (op.value.alias !== "") aliases.set(op.value.alias, id);
          this.#checkUnique(nodes, op.value.typeId, id, fields, index);
          nodes.set(id, { id, typeId: op.value.typeId, fields, version: 1n });
          return { id, created: true, version: 1n };
        }
        case "updateNode": {
          const id = resolve(op.value.id);
          const node = this.#existing(nodes, id, op.value.typeId, index, op.value.precondition);
          Object.assign(node.fields, resolveFields(op.value.set));
          for (const fid of op.value.clear) delete node.fields[fid];
          this.#checkUnique(nodes, node.typeId, id, node.fields, index);
          node.version += 1n;
          return { id, created: false, version: node.version };
        }
        case "deleteNode": {
          const id = resolve(op.value.id);
          const node = this.#existing(nodes, id, op.value.typeId, index, op.value.precondition);
          nodes.delete(id);
          return { id, created: false, version: node.version };
        }
        case "createEdge":
        case "deleteEdge": {
          const fromId = resolve(op.value.fromId);
          const toId = resolve(op.value.toId);
          const at = edges.findIndex(
            (e) => e.edgeTypeId === op.value.edgeTypeId && e.fromId === fromId && e.toId === toId,
          );
          if (at >= 0) edges.splice(at, 1);
          if (op.case === "createEdge") {
            edges.push(
              create(EdgeSchema, {
                edgeTypeId: op.value.edgeTypeId,
                fromId,
                toId,
                props: resolveFields(op.value.props),
                createdAt: timestampFromMs(Date.UTC(2024, 0, 1)),
              }),
            );
          }
          return { id: "", created: false, version: 0n };
        }
        default:
          throw new ConnectError(`operation ${index} is empty`, Code.InvalidArgument);
      }
    });
    this.#nodes.clear();
    for (const [id, node] of nodes) this.#nodes.set(id, node);
    this.#edges.splice(0, this.#edges.length, ...edges);
    return results;
  }

  #existing(
    nodes: Map<string, Stored>,
    id: string,
    typeId: number,
    index: number,
    precondition: Precondition | undefined,
  ): Stored {
    const node = nodes.get(id);
    if (node === undefined || node.typeId !== typeId) {
      throw failure(Code.NotFound, "NOT_FOUND", `node '${id}' does not exist`, index, typeId, 0);
    }
    const expectedVersion = precondition?.version;
    if (expectedVersion !== undefined && node.version !== expectedVersion) {
      throw failure(
        Code.FailedPrecondition,
        "PRECONDITION_FAILED",
        `node '${id}' is at version ${node.version}, not ${expectedVersion}`,
        index,
        typeId,
        0,
      );
    }
    for (const [fid, expected] of Object.entries(precondition?.fieldsEqual ?? {})) {
      const actual = node.fields[Number(fid)];
      const equal =
        expected.kind.case === "nullValue" ? actual === undefined : sameValue(actual, expected);
      if (!equal)
        throw failure(
          Code.FailedPrecondition,
          "PRECONDITION_FAILED",
          `node '${id}' field ${fid} does not have the expected value`,
          index,
          typeId,
          Number(fid),
        );
    }
    return node;
  }

  #checkUnique(
    nodes: Map<string, Stored>,
    typeId: number,
    id: string,
    fields: { readonly [id: number]: Value },
    index: number,
  ): void {
    for (const unique of this.#uniques) {
      if (unique.typeId !== typeId || fields[unique.fieldId] === undefined) continue;
      for (const other of nodes.values()) {
        if (other.id !== id && other.typeId === typeId) {
          if (sameValue(other.fields[unique.fieldId], fields[unique.fieldId])) {
            throw failure(
              Code.AlreadyExists,
              "UNIQUE_VIOLATION",
              "a node already has this value",
              index,
              typeId,
              unique.fieldId,
            );
          }
        }
      }
    }
  }
}

/** The snake_case name a WriteFailure records for a code ("already_exists"). */
function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
}

function errorOf(detail: WriteFailure): ConnectError {
  const code = Object.values(Code).find(
    (c): c is Code => typeof c === "number" && codeName(c) === detail.code,
  );
  return failure(
    code ?? Code.Unknown,
    detail.reason,
    detail.message,
    detail.operationIndex,
    detail.typeId,
    detail.fieldId,
  );
}

/** A ConnectError with a `WriteFailure` detail, as the server sends it. */
export function failure(
  code: Code,
  reason: string,
  message: string,
  operationIndex: number,
  typeId: number,
  fieldId: number,
): ConnectError {
  return new ConnectError(message, code, undefined, [
    {
      desc: WriteFailureSchema,
      value: create(WriteFailureSchema, {
        code: codeName(code),
        reason,
        message,
        operationIndex,
        typeId,
        fieldId,
      }),
    },
  ]);
}

function toNode(node: Stored): Node {
  return create(NodeSchema, {
    id: node.id,
    typeId: node.typeId,
    fields: node.fields,
    version: node.version,
    createdAt: timestampFromMs(Date.UTC(2024, 0, 1)),
    updatedAt: timestampFromMs(Date.UTC(2024, 0, 2)),
    owner: "dev",
  });
}

function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  return a !== undefined && b !== undefined && equals(ValueSchema, a, b);
}

/** Whether two plans have the same steps. */
function sameSteps(a: readonly Operation[], b: readonly Operation[]): boolean {
  return a.length === b.length && a.every((op, i) => equals(OperationSchema, op, b[i]!));
}

/** Orders two field values of one kind: unset first, then by their scalar. */
function compare(a: Value | undefined, b: Value | undefined): number {
  const [x, y] = [scalar(a), scalar(b)];
  if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? -1 : 1;
  // Values of one field are same-typed primitives (string, number, bigint).
  const [p, q] = [x as string, y as string];
  return p < q ? -1 : p > q ? 1 : 0;
}

function scalar(value: Value | undefined): unknown {
  return value?.kind.value;
}

function matches(value: Value | undefined, op: FilterOp, operands: readonly Value[]): boolean {
  const [first] = operands;
  switch (op) {
    case FilterOp.EQ:
      return sameValue(value, first);
    case FilterOp.NE:
      return !sameValue(value, first);
    case FilterOp.IN:
      return operands.some((o) => sameValue(value, o));
    case FilterOp.CONTAINS: {
      const kind = value?.kind;
      if (kind?.case === "listValue") return kind.value.values.some((v) => sameValue(v, first));
      return (
        typeof scalar(value) === "string" && String(scalar(value)).includes(String(scalar(first)))
      );
    }
    case FilterOp.PREFIX:
      return (
        typeof scalar(value) === "string" && String(scalar(value)).startsWith(String(scalar(first)))
      );
    default: {
      const a = scalar(value);
      const b = scalar(first);
      if (typeof a !== typeof b || a === undefined) return false;
      // Same-typed primitives (string, number, bigint) compare with < and >.
      const [x, y] = [a as string, b as string];
      if (op === FilterOp.LT) return x < y;
      if (op === FilterOp.LTE) return x <= y;
      if (op === FilterOp.GT) return x > y;
      return x >= y;
    }
  }
}
