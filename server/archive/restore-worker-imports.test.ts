/**
 * A restore's apply threads load only what applying the log uses (restore-apply-worker.ts):
 * loading modules is most of what starting one costs, and a barrel import (the store's,
 * the applier's, the schema's, the log's `index.ts`) brings read paths, search, the
 * schema compiler or the Kafka and Kinesis clients with it. The modules are loaded in a
 * worker thread, as the restore's worker loads them, and listed by a module hook.
 */

import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The files a worker loads importing `modules` (paths from the repository's root). */
async function loadedBy(modules: readonly string[]): Promise<string[]> {
  const code = `
    import { registerHooks } from "node:module";
    import { parentPort, workerData } from "node:worker_threads";
    const urls = [];
    registerHooks({ load(url, context, next) { urls.push(url); return next(url, context); } });
    await Promise.all(workerData.map((m) => import(m)));
    parentPort.postMessage(urls);
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
    workerData: modules.map((m) => new URL(m, `file://${repoRoot}`).href),
  });
  try {
    const urls = await new Promise<string[]>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    return urls
      .filter((u) => u.startsWith("file://"))
      .map((u) => fileURLToPath(u).slice(repoRoot.length));
  } finally {
    await worker.terminate();
  }
}

/** What restore-apply-worker.ts imports. */
const WORKER_IMPORTS = [
  "server/internal-error.ts",
  "server/archive/restore-apply.ts",
  "server/archive/restore-records.ts",
];

describe("a restore's apply thread", () => {
  it("loads the applier, the store's write side and the embedded log, and nothing it does not apply with", async () => {
    const files = await loadedBy(WORKER_IMPORTS);
    const ours = files.filter((f) => !f.includes("node_modules/"));
    expect(ours).toEqual(
      expect.arrayContaining([
        "server/apply/applier.ts",
        "server/apply/bulk-load.ts",
        "server/store/tenant-db.ts",
        "server/wal/embedded-wal.ts",
        "schema/served.ts",
      ]),
    );
    const unwanted = (f: string) =>
      /^schema\/(index|compile|parser|lexer|validate-.*|format.*|render-diagnostics)\.ts$/.test(
        f,
      ) ||
      /^server\/(api|search|threads|cli)\//.test(f) ||
      /^server\/store\/(index|store-reader|node-reads|node-query|edge-reads)\.ts$/.test(f) ||
      /^server\/(apply|wal)\/index\.ts$/.test(f) ||
      /^codegen\/index\.ts$/.test(f) ||
      /node_modules\/(kafkajs|@aws-sdk|@connectrpc)\//.test(f);
    expect(files.filter(unwanted)).toEqual([]);
  });

  it("would see a barrel's modules (the check itself)", async () => {
    const files = await loadedBy(["server/store/index.ts", "schema/index.ts"]);
    expect(files).toEqual(
      expect.arrayContaining([
        "server/store/index.ts",
        "server/store/store-reader.ts",
        "schema/parser.ts",
      ]),
    );
  });
});
