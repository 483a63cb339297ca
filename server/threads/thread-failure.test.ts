import * as http2 from "node:http2";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

/**
 * Starts the fixture's listener on a worker, keeps 8 HTTP/2 connections posting bodies to
 * it, makes it throw inside a stream's `data` callback, and resolves with how it ended.
 */
async function failWhileReading(handled: boolean): Promise<{ code: number; error: unknown }> {
  const worker = new Worker(new URL("./thread-failure-fixture.ts", import.meta.url), {
    workerData: { handled },
  });
  let error: unknown;
  worker.on("error", (err) => {
    error = err;
  });
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  const port = await new Promise<number>((resolve) => worker.once("message", resolve));
  const clients = Array.from({ length: 8 }, () => http2.connect(`http://127.0.0.1:${port}`));
  let writing = true;
  const writers = clients.map(async (client) => {
    client.on("error", () => {});
    while (writing && !client.destroyed && !client.closed) {
      await new Promise<void>((resolve) => {
        try {
          const stream = client.request({ ":method": "POST", ":path": "/" });
          stream.on("error", () => resolve());
          stream.on("close", () => resolve());
          stream.resume();
          stream.write(Buffer.alloc(20_000));
          setImmediate(() => stream.end(Buffer.alloc(20_000)));
        } catch {
          resolve();
        }
      });
    }
  });
  // Let the connections carry bodies for a moment, then fail while they do.
  await new Promise((resolve) => setTimeout(resolve, 50));
  worker.postMessage("fail");
  const code = await exited;
  writing = false;
  for (const client of clients) client.destroy();
  await Promise.all(writers);
  return { code, error };
}

describe("a serving thread that fails", () => {
  // Without the handler, Node aborts this whole process on most rounds (the first, here):
  // `Assertion failed: onread->IsFunction()`.
  it("ends alone, with its error, while its HTTP/2 connections are carrying data", async () => {
    for (let round = 0; round < 10; round++) {
      const { code, error } = await failWhileReading(true);
      expect(code).toBe(1);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe("failed on purpose");
    }
  }, 60_000);
});
