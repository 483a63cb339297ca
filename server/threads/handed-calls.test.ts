import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { describe, expect, it } from "vitest";
import { WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import {
  errorFromWire,
  errorToWire,
  headersToWire,
  Outbox,
  reasonToWire,
  type WireError,
} from "./handed-calls.ts";

/** What crossing a message port does to a value. */
const cross = <T>(value: T): T => structuredClone(value);

/** The gRPC trailers the fast path writes for `error`, as pairs. */
function grpcTrailers(error: ConnectError) {
  const t = new Headers();
  setTrailerStatus(t, error);
  return headersToWire(t);
}

const failure = create(WriteFailureSchema, {
  code: "already_exists",
  reason: "UNIQUE_VIOLATION",
  message: "Team slug 'a' is taken.",
  operationIndex: 2,
  typeId: 3,
  fieldId: 4,
});

describe("handed call codec", () => {
  it("carries an error with details and metadata so that both protocols answer it byte for byte", () => {
    const original = new ConnectError(
      "Team slug 'a' is taken.",
      Code.AlreadyExists,
      { "x-entdb-hint": "pick another", "x-two": "2" },
      [{ desc: WriteFailureSchema, value: failure }],
    );
    const back = errorFromWire(cross(errorToWire(original)));
    expect(back.code).toBe(Code.AlreadyExists);
    expect(back.rawMessage).toBe("Team slug 'a' is taken.");
    expect(headersToWire(back.metadata)).toEqual([
      ["x-entdb-hint", "pick another"],
      ["x-two", "2"],
    ]);
    expect(new TextDecoder().decode(errorToJsonBytes(back, undefined))).toBe(
      new TextDecoder().decode(errorToJsonBytes(original, undefined)),
    );
    expect(grpcTrailers(back)).toEqual(grpcTrailers(original));
    // The schema-skew interceptor reads the detail back from the handed error.
    expect(back.findDetails(WriteFailureSchema)).toEqual([failure]);
  });

  it("carries an error without details or metadata as the same answer", () => {
    const original = new ConnectError("The plan has no operations.", Code.InvalidArgument);
    const wire = cross(errorToWire(original));
    expect(wire).toEqual({
      code: Code.InvalidArgument,
      message: "The plan has no operations.",
      metadata: [],
      details: [],
    } satisfies WireError);
    const back = errorFromWire(wire);
    expect(errorToJsonBytes(back, undefined)).toEqual(errorToJsonBytes(original, undefined));
    expect(grpcTrailers(back)).toEqual(grpcTrailers(original));
  });

  it("keeps an incoming detail (type and bytes) as it is", () => {
    const incoming = new ConnectError("bad", Code.FailedPrecondition);
    incoming.details = [{ type: "x.Unknown", value: new Uint8Array([8, 1]) }];
    const back = errorFromWire(cross(errorToWire(incoming)));
    expect(back.details).toEqual([{ type: "x.Unknown", value: new Uint8Array([8, 1]) }]);
    expect(errorToJsonBytes(back, undefined)).toEqual(errorToJsonBytes(incoming, undefined));
  });

  it("tells a deadline from a cancel, and any other reason as a cancel", () => {
    const deadline = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    expect(errorFromWire(reasonToWire(deadline)).code).toBe(Code.DeadlineExceeded);
    expect(errorFromWire(reasonToWire(new Error("gone"))).message).toBe(
      "[canceled] the client cancelled the call",
    );
  });
});

describe("Outbox", () => {
  it("posts what one turn queued as one message, in order, and the next turn's as another", async () => {
    const posted: number[][] = [];
    const box = new Outbox<number>((m) => posted.push(m));
    box.push(1);
    box.push(2);
    await Promise.resolve();
    box.push(3);
    expect(posted).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(posted).toEqual([[1, 2, 3]]);
    box.push(4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(posted).toEqual([[1, 2, 3], [4]]);
  });
});
