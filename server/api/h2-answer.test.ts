/**
 * `endH2Answer` ends an HTTP/2 answer without the `ERR_STREAM_DESTROYED` error Node
 * builds when a stream's last write completes after the stream closed, and still
 * releases every stream: answered normally, answered before the request ended, or reset
 * by the client while the answer could not go out. A real server and client; what goes
 * on the wire is `h2-answer-wire.test.ts`'s.
 */

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endH2Answer } from "./h2-answer.ts";

const { NGHTTP2_NO_ERROR } = http2.constants;

/** How the server answers the next streams. */
let answer: (stream: http2.ServerHttp2Stream) => void = () => {};
let server: http2.Http2Server;
let url = "";

beforeAll(async () => {
  server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** What the server saw of one answered stream. */
interface Served {
  /** What the last write's callback was handed. */
  readonly outcome: Promise<Error | null | undefined>;
  /** Resolves when the stream emitted `close` (its resources released). */
  readonly closed: Promise<void>;
}

/** Answers each request once its body ended, with `end`; records what the server saw. */
function answerOnEnd(
  end: (stream: http2.ServerHttp2Stream, then: (e?: Error | null) => void) => void,
) {
  const served: Served[] = [];
  answer = (stream) => {
    let settle: (e: Error | null | undefined) => void = () => {};
    const outcome = new Promise<Error | null | undefined>((resolve) => {
      settle = resolve;
    });
    const closed = new Promise<void>((resolve) => stream.once("close", resolve));
    served.push({ outcome, closed });
    stream.resume();
    stream.once("end", () => {
      setImmediate(() => {
        stream.respond({ ":status": 200, "content-type": "application/proto" });
        end(stream, settle);
      });
    });
  };
  return served;
}

/** Sends `count` unary requests one after another; resolves with the bodies received. */
async function unaryCalls(session: http2.ClientHttp2Session, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    bodies.push(
      await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/x" });
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => resolve(Buffer.concat(chunks).toString()));
        stream.on("error", reject);
        stream.end(Buffer.from(`request ${i}`));
      }),
    );
  }
  return bodies;
}

describe("endH2Answer", () => {
  it("a stream ended with its last write after the request ended: Node hands the write an ERR_STREAM_DESTROYED", async () => {
    // Why endH2Answer exists: the plain end's callback sees the error Node built.
    const served = answerOnEnd((stream, then) => stream.end(Buffer.from("answer"), then));
    const session = http2.connect(url);
    expect(await unaryCalls(session, 20)).toEqual(Array(20).fill("answer"));
    session.close();
    const outcomes = await Promise.all(served.map((s) => s.outcome));
    expect(outcomes.map((e) => (e as NodeJS.ErrnoException | null)?.code)).toEqual(
      Array(20).fill("ERR_STREAM_DESTROYED"),
    );
  });

  it("endH2Answer: the same answers, no error built, every stream closed", async () => {
    const served = answerOnEnd((stream, then) => endH2Answer(stream, Buffer.from("answer"), then));
    const session = http2.connect(url);
    expect(await unaryCalls(session, 20)).toEqual(Array(20).fill("answer"));
    session.close();
    expect(await Promise.all(served.map((s) => s.outcome))).toEqual(Array(20).fill(null));
    await Promise.all(served.map((s) => s.closed));
  });

  it("an answer before the request ended: the client gets it whole, then RST_STREAM NO_ERROR", async () => {
    let closed: Promise<void> = Promise.resolve();
    answer = (stream) => {
      closed = new Promise<void>((resolve) => stream.once("close", resolve));
      stream.once("data", () => {
        stream.respond({ ":status": 400, "content-type": "application/json" });
        endH2Answer(stream, Buffer.from('{"code":"invalid_argument"}'));
      });
    };
    const session = http2.connect(url);
    const got = await new Promise<{ body: string; rstCode: number }>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": "/x" });
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () =>
        resolve({ body: Buffer.concat(chunks).toString(), rstCode: stream.rstCode }),
      );
      stream.write(Buffer.from("the first part of a body that never ends"));
    });
    session.close();
    expect(got).toEqual({ body: '{"code":"invalid_argument"}', rstCode: NGHTTP2_NO_ERROR });
    await closed;
  });

  it("a stream the client resets while its answer waits for flow control is released", async () => {
    let closed: Promise<void> = Promise.resolve();
    let then: Promise<Error | null | undefined> = Promise.resolve(null);
    answer = (stream) => {
      closed = new Promise<void>((resolve) => stream.once("close", resolve));
      stream.resume();
      stream.once("end", () => {
        stream.respond({ ":status": 200 });
        then = new Promise((resolve) => endH2Answer(stream, Buffer.alloc(4096, 1), resolve));
      });
    };
    // A 16-byte window: the answer cannot go out until the client reads, which it never does.
    const session = http2.connect(url, { settings: { initialWindowSize: 16 } });
    const stream = session.request({ ":method": "POST", ":path": "/x" });
    stream.on("error", () => {});
    stream.once("response", () => stream.close(NGHTTP2_NO_ERROR));
    stream.end(Buffer.from("request"));
    await new Promise<void>((resolve) => stream.once("response", () => resolve()));
    await closed;
    // The write never went out: Node cancels it when the stream is released.
    expect(await then).toMatchObject({ code: "ECANCELED" });
    session.destroy();
  });
});
