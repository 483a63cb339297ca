import { PassThrough } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { readAllBytes } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { clientWentAway, readBody } from "./request-body.ts";

/** A stream that yields `chunks` and ends. */
function body(...chunks: string[]): PassThrough {
  const stream = new PassThrough();
  for (const c of chunks) stream.write(Buffer.from(c));
  stream.end();
  return stream;
}

/** What a read settles with: the bytes as text, or the error's code and message. */
async function outcome(read: Promise<Uint8Array>): Promise<string> {
  try {
    return Buffer.from(await read).toString();
  } catch (e) {
    const error = ConnectError.from(e);
    return `${Code[error.code]}: ${error.rawMessage}`;
  }
}

describe("readBody", () => {
  it("answers what the library's readAllBytes answers, bytes and errors", async () => {
    const cases: [chunks: string[], max: number, length: string | undefined][] = [
      [["hello"], 10, undefined],
      [["he", "llo"], 10, undefined],
      [[], 10, undefined],
      [["he", "llo"], 10, "5"],
      [["hello"], 10, "12"],
      [["hello"], 10, "3"],
      [["hello"], 10, "not a number"],
      [["hello"], 4, undefined],
      [["hello"], 4, "5"],
      [["hel", "lo"], 4, undefined],
    ];
    for (const [chunks, max, length] of cases) {
      const ours = await outcome(readBody(body(...chunks), max, length));
      const library = await outcome(readAllBytes(body(...chunks), max, length ?? null));
      expect({ chunks, max, length, ours }).toEqual({ chunks, max, length, ours: library });
    }
  });

  it("answers an empty body that ended before it was read, even once the stream closed", async () => {
    const ended = body();
    ended.resume();
    await new Promise((resolve) => ended.once("end", resolve));
    expect(ended.readableEnded).toBe(true);
    expect(await outcome(readBody(ended, 10, "0"))).toBe("");
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended.destroyed).toBe(true);
    expect(await outcome(readBody(ended, 10, undefined))).toBe("");
  });

  it("leaves a body it refused open and paused, so the answer can still go out", async () => {
    const stream = new PassThrough();
    stream.write(Buffer.from("hel"));
    stream.write(Buffer.from("lo"));
    expect(await outcome(readBody(stream, 4, undefined))).toBe(
      "ResourceExhausted: message size is larger than configured readMaxBytes 4",
    );
    expect(stream.destroyed).toBe(false);
    expect(stream.isPaused()).toBe(true);
    expect(stream.listenerCount("data")).toBe(0);
  });

  it("rejects with CANCELED when the stream closes before its body ended", async () => {
    const open = new PassThrough();
    open.write(Buffer.from("par"));
    const read = readBody(open, 10, undefined);
    open.destroy();
    expect(await outcome(read)).toBe("Canceled: the client cancelled the call");
    expect(await outcome(readBody(open, 10, undefined))).toBe(
      "Canceled: the client cancelled the call",
    );
  });

  it("reads streams whose chunks interleave each into its own body, with the shared listeners", async () => {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const reads = [readBody(a, 100, undefined), readBody(b, 100, "6")];
    a.write(Buffer.from("one "));
    b.write(Buffer.from("two "));
    a.write(Buffer.from("body"));
    b.end(Buffer.from("!!"));
    a.end();
    expect(await Promise.all(reads.map(outcome))).toEqual(["one body", "two !!"]);
    for (const stream of [a, b])
      for (const event of ["data", "end", "error", "close"])
        expect(stream.listenerCount(event)).toBe(0);
  });
});

/** An error as Node's streams make them, with a `code`. */
function nodeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("clientWentAway", () => {
  it("is a peer's close on a closed request, and nothing else", () => {
    const aborted = nodeError("aborted", "ECONNRESET");
    const premature = nodeError("Premature close", "ERR_STREAM_PREMATURE_CLOSE");
    expect(clientWentAway(aborted, true)).toBe(true);
    expect(clientWentAway(premature, true)).toBe(true);
    // The same errors while the request is still open are the server's own failure.
    expect(clientWentAway(aborted, false)).toBe(false);
    expect(clientWentAway(premature, false)).toBe(false);
    // A write on a stream the server closed itself, a bug, stays an error.
    expect(clientWentAway(nodeError("closed", "ERR_HTTP2_INVALID_STREAM"), true)).toBe(false);
    expect(clientWentAway(new Error("boom"), true)).toBe(false);
    expect(clientWentAway(undefined, true)).toBe(false);
  });

  it("makes a body cut short by a reset socket CANCELED; another stream error stays itself", async () => {
    const reset = new PassThrough();
    const read = outcome(readBody(reset, 10, "5"));
    reset.write(Buffer.from("he"));
    reset.destroy(nodeError("aborted", "ECONNRESET"));
    expect(await read).toBe("Canceled: the client cancelled the call");
    const broken = new PassThrough();
    const failed = readBody(broken, 10, "5");
    broken.destroy(nodeError("bad chunk", "ERR_SOMETHING_ELSE"));
    await expect(failed).rejects.toThrow("bad chunk");
  });
});
