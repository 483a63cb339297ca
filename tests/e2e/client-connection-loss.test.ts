/**
 * The generated client when the server dies under its calls: writes in flight when
 * `entdb serve` is SIGKILLed and restarted on the same ports are retried with their
 * idempotency keys, so every write resolves and each is stored once (docs/client.md,
 * "Idempotency and retries"). Once per Node transport, since each reports a lost
 * connection differently (HTTP/1.1 `read ECONNRESET`, an HTTP/2 stream reset).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport, type NodeTransportOptions } from "../../runtime/node.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import { type GeneratedTrackerClient, loadTrackerClient } from "./tracker-client.ts";

let generated: GeneratedTrackerClient;
const dirs: string[] = [];

beforeAll(async () => {
  generated = await loadTrackerClient();
});

afterAll(() => {
  generated?.dispose();
  for (const dir of dirs) removeDataDir(dir);
});

const transports: readonly [string, Omit<NodeTransportOptions, "baseUrl">][] = [
  ["connect-http1", { protocol: "connect", httpVersion: "1.1" }],
  ["connect-http2", { protocol: "connect", httpVersion: "2" }],
  ["grpc", { protocol: "grpc" }],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(transports)("writes in flight over %s when the server is killed", (_, transport) => {
  it("are retried with their keys: each resolves, and each is stored exactly once", async () => {
    const dataDir = tempDataDir("entdb-connection-loss-");
    dirs.push(dataDir);
    let server: ServerProcess = await startServerProcess({ dataDir });
    try {
      const db = generated.createClient({
        transport: createNodeTransport({ baseUrl: server.url, ...transport }),
        tenant: "connection-loss",
        // Long enough to outlast a restart on a loaded machine.
        retry: { maxAttempts: 40, initialDelayMs: 50, maxDelayMs: 500 },
      });
      const acknowledged: string[] = [];
      const failures: string[] = [];
      let stop = false;
      const writer = async (w: number) => {
        for (let n = 0; !stop; n++) {
          const slug = `w${w}-${n}`;
          try {
            await db.team.create({ name: slug, slug });
            acknowledged.push(slug);
          } catch (err) {
            failures.push(`${slug}: ${String(err)}`);
            return;
          }
        }
      };
      const writers = [0, 1, 2, 3].map(writer);
      while (acknowledged.length < 40) await sleep(10);
      await server.kill();
      server = await startServerProcess({ dataDir, port: server.port, httpPort: server.httpPort });
      const resumed = acknowledged.length;
      while (acknowledged.length < resumed + 40 && failures.length === 0) await sleep(10);
      stop = true;
      await Promise.all(writers);

      expect(failures).toEqual([]);
      const stored = new Map<string, number>();
      for (let page = await db.team.query({ limit: 1000 }); ; ) {
        for (const team of page.items) {
          const slug = String(team["slug"]);
          stored.set(slug, (stored.get(slug) ?? 0) + 1);
        }
        if (page.next === undefined) break;
        page = await db.team.query({ limit: 1000, after: page.next });
      }
      expect([...stored.keys()].sort()).toEqual([...acknowledged].sort());
      expect([...stored.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
