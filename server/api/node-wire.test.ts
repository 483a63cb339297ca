/**
 * `encodeOutput` (output-encoding.ts, node-wire.ts) writes the same bytes as `toBinary`
 * for answers holding nodes and edges, whatever their values, and leaves what it does
 * not cover to `toBinary`.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Edge,
  EdgeSchema,
  GetNodeResponseSchema,
  GetNodesResponseSchema,
  ListEdgesResponseSchema,
  type Node,
  NodeSchema,
  QueryNodesResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { int64, text, timestamp, uint32, value } from "../../tests/value-arbitraries.ts";
import { pageWireBoxOf, sharePage } from "../store/edge-cache.ts";
import { freezeMessage } from "../store/node-cache.ts";
import { encodeAlone, encodeNodeLike } from "./node-wire.ts";
import { encodeOutput } from "./output-encoding.ts";

const fields = fc.dictionary(
  fc.oneof(fc.integer({ min: 1, max: 300 }), uint32).map(String),
  value,
  { maxKeys: 8 },
);

const node: fc.Arbitrary<Node> = fc
  .record(
    {
      id: fc.oneof(fc.uuid(), text, fc.constant("")),
      typeId: fc.oneof(uint32, fc.constant(0)),
      fields,
      version: fc.oneof(int64, fc.constant(0n)),
      createdAt: timestamp,
      updatedAt: timestamp,
      owner: fc.oneof(text, fc.constant("")),
    },
    { requiredKeys: ["id", "typeId", "fields", "version", "owner"] },
  )
  .map((init) => create(NodeSchema, init));

const edge: fc.Arbitrary<Edge> = fc
  .record(
    {
      edgeTypeId: fc.oneof(uint32, fc.constant(0)),
      fromId: fc.oneof(fc.uuid(), text),
      toId: fc.oneof(fc.uuid(), text),
      props: fields,
      createdAt: timestamp,
    },
    { requiredKeys: ["edgeTypeId", "fromId", "toId", "props"] },
  )
  .map((init) => create(EdgeSchema, init));

describe("encodeOutput", () => {
  it("writes a page of nodes as toBinary does", () => {
    fc.assert(
      fc.property(
        fc.array(node, { maxLength: 6 }),
        fc.oneof(text, fc.string()),
        (nodes, nextCursor) => {
          const page = create(QueryNodesResponseSchema, { nodes, nextCursor });
          expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(
            toBinary(QueryNodesResponseSchema, page),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes one node, a batch with missing ids, and edges with a count as toBinary does", () => {
    fc.assert(
      fc.property(
        fc.option(node, { nil: undefined }),
        fc.array(node, { maxLength: 4 }),
        fc.array(fc.oneof(fc.uuid(), text, fc.constant("")), { maxLength: 3 }),
        fc.array(edge, { maxLength: 6 }),
        fc.option(int64, { nil: undefined }),
        fc.oneof(text, fc.constant("")),
        (one, nodes, missingIds, edges, totalCount, nextCursor) => {
          const get = create(GetNodeResponseSchema, one === undefined ? {} : { node: one });
          expect(encodeOutput(GetNodeResponseSchema, get)).toEqual(
            toBinary(GetNodeResponseSchema, get),
          );
          const batch = create(GetNodesResponseSchema, { nodes, missingIds });
          expect(encodeOutput(GetNodesResponseSchema, batch)).toEqual(
            toBinary(GetNodesResponseSchema, batch),
          );
          const list = create(ListEdgesResponseSchema, {
            edges,
            nextCursor,
            ...(totalCount === undefined ? {} : { totalCount }),
          });
          expect(encodeOutput(ListEdgesResponseSchema, list)).toEqual(
            toBinary(ListEdgesResponseSchema, list),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes frozen nodes from their kept bytes as toBinary does, beside unfrozen ones", () => {
    fc.assert(
      fc.property(fc.array(node, { maxLength: 6 }), fc.array(fc.boolean()), (nodes, freeze) => {
        // Some frozen (those holding bytes stay unfrozen), one of them listed twice.
        const frozen = nodes.map((n, i) => (freeze[i] === true && freezeMessage(n)) || false);
        const listed = frozen.includes(true) ? [...nodes, nodes[frozen.indexOf(true)]!] : nodes;
        const page = create(QueryNodesResponseSchema, { nodes: listed, nextCursor: "next" });
        const expected = toBinary(QueryNodesResponseSchema, page);
        expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(expected);
        // The second time the frozen ones are copied from the kept bytes.
        expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(expected);
        const get = create(GetNodeResponseSchema, { node: listed[listed.length - 1] });
        expect(encodeOutput(GetNodeResponseSchema, get)).toEqual(
          toBinary(GetNodeResponseSchema, get),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("writes a shared edge page from its kept bytes as toBinary does, whatever its cursor and count", () => {
    fc.assert(
      fc.property(
        fc.array(edge, { maxLength: 6 }),
        fc.array(fc.tuple(fc.oneof(text, fc.constant("")), fc.option(int64, { nil: undefined })), {
          minLength: 1,
          maxLength: 3,
        }),
        (edges, answers) => {
          const shared = edges.filter((e) => freezeMessage(e));
          if (shared.length === 0) return;
          const items = sharePage(shared);
          for (const [nextCursor, totalCount] of answers) {
            // The page's array itself, as the edge cache hands it to every answer.
            const list = {
              ...create(ListEdgesResponseSchema, { nextCursor }),
              edges: items as Edge[],
            };
            if (totalCount !== undefined) list.totalCount = totalCount;
            const expected = toBinary(ListEdgesResponseSchema, list);
            expect(encodeOutput(ListEdgesResponseSchema, list)).toEqual(expected);
            expect(encodeOutput(ListEdgesResponseSchema, list)).toEqual(expected);
          }
          expect(pageWireBoxOf(items)?.bytes).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("answers a shared node alone with its kept answer, the bytes toBinary writes", () => {
    fc.assert(
      fc.property(node, (n) => {
        if (!freezeMessage(n)) return;
        const get = create(GetNodeResponseSchema, { node: n });
        const expected = toBinary(GetNodeResponseSchema, get);
        const first = encodeOutput(GetNodeResponseSchema, get);
        expect(first).toEqual(expected);
        // The next answer of the same node is the kept array itself.
        expect(encodeOutput(GetNodeResponseSchema, { ...get })).toBe(first);
        // Kept for its field number: as another field it is written again.
        const asField2 = encodeAlone("node", 2, n);
        expect(asField2).toEqual(encodeNodeLike("node", 2, [n]));
        expect(asField2?.[0]).toBe((2 << 3) | 2);
        expect(encodeOutput(GetNodeResponseSchema, get)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("writes a shared node page from its kept bytes as toBinary does, whatever its cursor", () => {
    fc.assert(
      fc.property(
        fc.array(node, { maxLength: 6 }),
        fc.array(fc.oneof(text, fc.constant("")), { minLength: 1, maxLength: 3 }),
        (nodes, cursors) => {
          const shared = nodes.filter((n) => freezeMessage(n));
          if (shared.length === 0) return;
          // The page's array itself, as the query page cache hands it to every answer.
          const items = sharePage(shared);
          for (const nextCursor of cursors) {
            const page = {
              ...create(QueryNodesResponseSchema, { nextCursor }),
              nodes: items as Node[],
            };
            const expected = toBinary(QueryNodesResponseSchema, page);
            expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(expected);
            expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(expected);
          }
          expect(pageWireBoxOf(items)?.bytes).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes what the row codec builds (literals, not create()) as toBinary does", () => {
    const literal = {
      $typeName: "entdb.v1.Node",
      id: "0193a1b2-c3d4-7e5f-8a9b-000000000001",
      typeId: 1,
      fields: {
        1: { $typeName: "entdb.v1.Value", kind: { case: "stringValue", value: "ada@example.com" } },
        6: {
          $typeName: "entdb.v1.Value",
          kind: {
            case: "timestampValue",
            value: { $typeName: "google.protobuf.Timestamp", seconds: 1700000000n, nanos: 5000 },
          },
        },
      },
      version: 3n,
      createdAt: { $typeName: "google.protobuf.Timestamp", seconds: 1733400000n, nanos: 0 },
      updatedAt: { $typeName: "google.protobuf.Timestamp", seconds: 1733400001n, nanos: 0 },
      owner: "user:ada",
    } as unknown as Node;
    const page = create(QueryNodesResponseSchema, { nodes: [literal, literal] });
    expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(
      toBinary(QueryNodesResponseSchema, page),
    );
  });

  it("leaves nodes with unknown fields to toBinary, which keeps them", () => {
    const withUnknown = create(NodeSchema, { id: "n", typeId: 1 });
    withUnknown.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([7]) }];
    const value: Value = create(ValueSchema, { kind: { case: "boolValue", value: true } });
    value.$unknown = [{ no: 77, wireType: 0, data: new Uint8Array([1]) }];
    const withUnknownValue = create(NodeSchema, { id: "m", fields: { 1: value } });
    for (const nodes of [[withUnknown], [withUnknownValue]]) {
      const page = create(QueryNodesResponseSchema, { nodes });
      expect(encodeOutput(QueryNodesResponseSchema, page)).toEqual(
        toBinary(QueryNodesResponseSchema, page),
      );
    }
  });

  it("throws toBinary's error for a value toBinary cannot encode", () => {
    const bad = create(NodeSchema, { id: "n" });
    (bad as { typeId: number }).typeId = -1;
    const page = create(QueryNodesResponseSchema, { nodes: [bad] });
    expect(() => toBinary(QueryNodesResponseSchema, page)).toThrow();
    expect(() => encodeOutput(QueryNodesResponseSchema, page)).toThrow(
      (() => {
        try {
          toBinary(QueryNodesResponseSchema, page);
        } catch (e) {
          return (e as Error).message;
        }
        return "";
      })(),
    );
  });
});
