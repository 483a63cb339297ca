/**
 * The worker of thread-failure.test.ts: an API listener (the serving threads' own
 * `listenApi`) whose HTTP/2 streams read request bodies, and which fails (throws from a
 * stream's `data` callback, inside nghttp2's read loop) when told to. With
 * `workerData.handled`, it installs the serving threads' failure handler first.
 */

import { parentPort, workerData } from "node:worker_threads";
import { listenApi } from "../api/listen.ts";
import { endOnFailure } from "./thread-failure.ts";

let failNow = false;
const listener = await listenApi(() => {}, {
  host: "127.0.0.1",
  port: 0,
  serveH2Stream: (stream) => {
    stream.on("data", () => {
      if (failNow) {
        failNow = false;
        throw new Error("failed on purpose");
      }
    });
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    return true;
  },
});
if ((workerData as { handled: boolean }).handled) endOnFailure(() => listener.destroy());
parentPort?.on("message", () => {
  failNow = true;
});
parentPort?.postMessage(listener.port);
