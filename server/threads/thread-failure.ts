/**
 * How a serving thread ends when it fails: an uncaught exception or an unhandled
 * rejection, that is, a bug. The main thread logs it and starts the thread again
 * (serve-threads.ts); the process must go on serving.
 *
 * Left to Node, it would not: a worker that ends while one of its HTTP/2 sessions is
 * still reading aborts the whole process (`Assertion failed: onread->IsFunction()` in
 * `StreamBase::CallJSOnreadMethod`: the peer's DATA reaches a stream whose JavaScript
 * side the ending thread no longer has; nodejs/node#38418). With clients writing on the
 * thread's connections, that is the usual case. So the thread first drops every
 * connection it holds, then ends with the same error a turn later, which the main thread
 * sees as before (the worker's `error`, then `exit` with code 1).
 *
 * Both steps run from `setImmediate`, never inside the handler: an exception thrown by a
 * stream's callback reaches the handler from inside nghttp2's read loop, and a session
 * destroyed there with DATA still buffered trips the same assertion (nodejs/node#64850).
 */

/**
 * Installs the failure handler of this thread. `dropConnections` must close every socket
 * and HTTP/2 session the thread holds, without waiting for anything.
 */
export function endOnFailure(dropConnections: () => void): void {
  let failed = false;
  const fail = (err: unknown): void => {
    // The first failure is the one reported; the thread is ending anyway.
    if (failed) return;
    failed = true;
    setImmediate(() => {
      try {
        dropConnections();
      } finally {
        setImmediate(() => {
          process.off("uncaughtException", fail);
          throw err;
        });
      }
    });
  };
  process.on("uncaughtException", fail);
}
