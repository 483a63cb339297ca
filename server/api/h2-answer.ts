/**
 * The last write of an HTTP/2 answer, without the error Node builds after it.
 *
 * A unary request ends its side of the stream (END_STREAM) with its body, so by the time
 * the server answers with `stream.end(body)`, the DATA frame carrying END_STREAM closes
 * the stream in nghttp2 as it is packed for the socket. Node's `onStreamClose` then
 * destroys the JavaScript stream at once (its readable side has ended), and the write's
 * own completion, which only comes after the socket write, finds a destroyed writable:
 * `afterWrite` calls `errorBuffer`, which builds `new ERR_STREAM_DESTROYED('end')`, stack
 * trace and all, for the end callbacks, even when there are none (Node 24,
 * `lib/internal/streams/writable.js`). Every Connect and gRPC-Web answer paid that:
 * 2–10 % of a small call's CPU in a profile. gRPC answers end with trailers, which go out
 * after the write completed, so they never did.
 *
 * So the destroy that comes with the stream's normal close is held until the write has
 * completed, usually a moment later in the same turn (the socket took the bytes), and
 * then done. What goes on the wire is the same: the close has already happened, the
 * destroy only releases the stream's JavaScript side. A destroy with an error, or one
 * for a stream that is not closed with NO_ERROR (a reset, the session going away), goes
 * through at once. If the write has not completed by the next turn (a socket that
 * could not take the bytes at once), the held destroy goes through anyway, as before.
 */

import * as http2 from "node:http2";

const { NGHTTP2_NO_ERROR } = http2.constants;

/**
 * Ends `stream` with `body` as its last DATA frame. Once the answer is out, a stream
 * whose request had not ended yet (an error answered before the whole body arrived) is
 * told to stop sending without failing the call: RST_STREAM NO_ERROR (RFC 9113 §8.1).
 * `then`, if given, sees the write's outcome: null when the answer went out.
 */
export function endH2Answer(
  stream: http2.ServerHttp2Stream,
  body: Uint8Array,
  then?: (error: Error | null | undefined) => void,
): void {
  const destroy = stream.destroy;
  let written = false;
  let held = false;
  // Named first and assigned after: V8's parser marks a function written as the value of an
  // assignment (`stream.destroy = function …`) to be allocated in the old generation, where,
  // until TurboFan compiles this function, it keeps the whole call (the stream, its
  // request, everything the closure reaches) alive through every scavenge.
  const holdDestroy = function holdDestroy(error?: Error) {
    if (error != null || written || held || !stream.closed || stream.rstCode !== NGHTTP2_NO_ERROR)
      return destroy.call(stream, error);
    held = true;
    setImmediate(release);
    return stream;
  };
  stream.destroy = holdDestroy;
  const release = () => {
    stream.destroy = destroy;
    if (held && !stream.destroyed) destroy.call(stream);
  };
  stream.end(body, (error?: Error | null) => {
    written = true;
    release();
    if (error == null && !stream.readableEnded && !stream.destroyed && !stream.closed)
      stream.close(NGHTTP2_NO_ERROR);
    then?.(error);
  });
}
