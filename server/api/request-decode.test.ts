/**
 * `decodeRequestHere` (request-decode.ts) builds what `fromBinary` builds, property order
 * included, for every request it decodes, and leaves everything it cannot decode as the
 * library does to the library: unknown fields, message fields, non-ASCII strings, long
 * varints, malformed bytes.
 */

import { create, type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type GetNodeRequest,
  GetNodeRequestSchema,
  GetNodesRequestSchema,
  ListEdgesRequestSchema,
  QueryNodesRequestSchema,
  TraverseRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { text, uint32 } from "../../tests/value-arbitraries.ts";
import { decodeRequestHere } from "./request-decode.ts";
import { parseInput } from "./unary-call.ts";

const ascii = fc.oneof(
  fc.string({
    unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)),
    maxLength: 300,
  }),
  fc.uuid(),
  fc.constant(""),
);
const str = fc.oneof(ascii, ascii, text);
const position = fc.option(
  fc.record({ partition: uint32, offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }) }),
  { nil: undefined, freq: 3 },
);

const getNode = fc.record({ tenant: str, typeId: uint32, id: str, afterPosition: position });
const getNodes = fc.record({
  tenant: str,
  typeId: uint32,
  ids: fc.array(str, { maxLength: 5 }),
  afterPosition: position,
});
const listEdges = fc.record({
  tenant: str,
  edgeTypeId: uint32,
  nodeId: str,
  direction: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 300 })),
  limit: uint32,
  cursor: str,
  includeCount: fc.boolean(),
  afterPosition: position,
});

/** What both decoders give for `bytes`: the same message, or the library's error alone. */
function both(desc: DescMessage, bytes: Uint8Array): Message | undefined {
  let expected: Message | Error;
  try {
    expected = fromBinary(desc, bytes);
  } catch (e) {
    expected = e as Error;
  }
  const here = decodeRequestHere(desc, bytes);
  if (expected instanceof Error) {
    expect(here).toBeUndefined();
    return undefined;
  }
  if (here !== undefined) {
    expect(here).toStrictEqual(expected);
    expect(Object.keys(here)).toEqual(Object.keys(expected));
  }
  // The fast paths' parse gives the library's message either way.
  expect(parseInput(desc, bytes)).toStrictEqual(expected);
  return here;
}

/** `bytes` with random bytes changed, cut or appended. */
const corrupt = (bytes: Uint8Array) =>
  fc
    .record({
      at: fc.nat(),
      to: fc.integer({ min: 0, max: 255 }),
      cut: fc.nat(),
      tail: fc.uint8Array({ maxLength: 6 }),
      mode: fc.integer({ min: 0, max: 2 }),
    })
    .map(({ at, to, cut, tail, mode }) => {
      if (mode === 0 && bytes.length > 0) {
        const out = bytes.slice();
        out[at % bytes.length] = to;
        return out;
      }
      if (mode === 1) return bytes.subarray(0, cut % (bytes.length + 1));
      const out = new Uint8Array(bytes.length + tail.length);
      out.set(bytes);
      out.set(tail, bytes.length);
      return out;
    });

describe("decodeRequestHere", () => {
  const cases = [
    ["GetNodeRequest", GetNodeRequestSchema, getNode],
    ["GetNodesRequest", GetNodesRequestSchema, getNodes],
    ["ListEdgesRequest", ListEdgesRequestSchema, listEdges],
  ] as const;

  for (const [name, desc, arbitrary] of cases) {
    it(`gives fromBinary's ${name} for random requests, and decodes the common ones itself`, () => {
      let decoded = 0;
      fc.assert(
        fc.property(arbitrary, (init) => {
          const bytes = toBinary(desc, create(desc, init as never));
          if (both(desc, bytes) !== undefined) decoded++;
        }),
        { numRuns: 400 },
      );
      // Some inputs have only ASCII strings, small numbers and no position.
      expect(decoded).toBeGreaterThan(10);
    });

    it(`gives fromBinary's ${name}, or its error, for corrupted bytes`, () => {
      fc.assert(
        fc.property(
          arbitrary.chain((init) => corrupt(toBinary(desc, create(desc, init as never)))),
          (bytes) => {
            both(desc, bytes);
          },
        ),
        { numRuns: 600 },
      );
    });
  }

  it("decodes a get by id itself, with the library's shape", () => {
    const bytes = toBinary(
      GetNodeRequestSchema,
      create(GetNodeRequestSchema, { tenant: "acme", typeId: 300, id: "n-0123456789abcdef" }),
    );
    const here = decodeRequestHere<GetNodeRequest>(GetNodeRequestSchema, bytes);
    expect(here).toStrictEqual({
      $typeName: "entdb.v1.GetNodeRequest",
      tenant: "acme",
      typeId: 300,
      id: "n-0123456789abcdef",
    });
    expect(Object.keys(here ?? {})).toEqual(["$typeName", "tenant", "typeId", "id"]);
  });

  it("leaves unknown fields, message fields, non-ASCII text and long varints to the library", () => {
    const base = toBinary(
      GetNodeRequestSchema,
      create(GetNodeRequestSchema, { tenant: "acme", typeId: 7, id: "x" }),
    );
    const withTail = (tail: number[]) => new Uint8Array([...base, ...tail]);
    // Field 9, varint 1: unknown, kept in `$unknown` by the library.
    const unknown = withTail([0x48, 0x01]);
    expect(decodeRequestHere(GetNodeRequestSchema, unknown)).toBeUndefined();
    const parsed = parseInput(GetNodeRequestSchema, unknown) as GetNodeRequest;
    expect(parsed.$unknown).toEqual([{ no: 9, wireType: 0, data: new Uint8Array([0x01]) }]);
    // Field 4 (after_position), an empty message.
    expect(decodeRequestHere(GetNodeRequestSchema, withTail([0x22, 0x00]))).toBeUndefined();
    // type_id as a five-byte varint (2^28).
    expect(
      decodeRequestHere(GetNodeRequestSchema, withTail([0x10, 0x80, 0x80, 0x80, 0x80, 0x01])),
    ).toBeUndefined();
    // type_id as a four-byte varint (2^28 - 1): decoded, the last value wins.
    expect(
      decodeRequestHere<GetNodeRequest>(
        GetNodeRequestSchema,
        withTail([0x10, 0xff, 0xff, 0xff, 0x7f]),
      )?.typeId,
    ).toBe(2 ** 28 - 1);
    // id "é" in UTF-8.
    expect(
      decodeRequestHere(GetNodeRequestSchema, withTail([0x1a, 0x02, 0xc3, 0xa9])),
    ).toBeUndefined();
    // Invalid UTF-8: the library's error, through the fast paths' parse.
    expect(() => parseInput(GetNodeRequestSchema, withTail([0x1a, 0x01, 0xff]))).toThrow(
      /not a valid entdb\.v1\.GetNodeRequest/,
    );
  });

  it("leaves messages with packed lists or oneofs to the library whole", () => {
    const traverse = toBinary(
      TraverseRequestSchema,
      create(TraverseRequestSchema, { tenant: "t", startId: "a" }),
    );
    expect(decodeRequestHere(TraverseRequestSchema, traverse)).toBeUndefined();
    const query = toBinary(
      QueryNodesRequestSchema,
      create(QueryNodesRequestSchema, { tenant: "t" }),
    );
    expect(decodeRequestHere(QueryNodesRequestSchema, query)).toBeUndefined();
    expect(parseInput(QueryNodesRequestSchema, query)).toStrictEqual(
      fromBinary(QueryNodesRequestSchema, query),
    );
  });
});
