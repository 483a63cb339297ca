/**
 * `entdb restore` reads the S3 endpoint as `entdb serve` does: `--s3-endpoint`, else
 * `ENTDB_S3_ENDPOINT`, else the standard AWS variables. Run through the real CLI against
 * the test S3 server (moto).
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import { Archiver, parseArchiveUrl, S3ObjectStore } from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { scenario } from "../apply/replay-scenario.ts";
import { runCommand } from "../e2e/e2e-helpers.ts";
import { REPO_ROOT } from "../e2e/server-process.ts";
import { S3_TEST_ENV, startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { schemaChangeEvent, served, TRACKER_V1, tempDir } from "../store/store-fixtures.ts";

let s3: TestS3;
let url: string;
let records = 0;
const dirs: { remove(): void }[] = [];

beforeAll(async () => {
  s3 = await startTestS3();
  const source = tempDir("endpoint-env-source");
  dirs.push(source);
  const wal = await openEmbeddedWal({ path: join(source.path, "wal.sqlite"), partitions: 1 });
  url = `s3://${await s3.newBucket()}/env`;
  const location = parseArchiveUrl(url);
  const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
  try {
    const events = [
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
      ...scenario(3).slice(0, 20),
    ];
    records = events.length;
    await wal.append(events);
    const archiver = await Archiver.start({ wal, store, location, log: createLogger("error") });
    await archiver.close(60_000);
  } finally {
    await wal.close();
    store.close();
  }
}, 600_000);

afterAll(() => {
  for (const d of dirs) d.remove();
});

/** Runs `entdb restore --from URL --data-dir (fresh) ...extra` with only `env` naming an endpoint. */
async function restore(extra: readonly string[], env: Record<string, string>) {
  const target = tempDir("endpoint-env-target");
  dirs.push(target);
  const base: NodeJS.ProcessEnv = { ...process.env, ...S3_TEST_ENV };
  delete base["AWS_ENDPOINT_URL"];
  delete base["AWS_ENDPOINT_URL_S3"];
  delete base["ENTDB_S3_ENDPOINT"];
  const run = await runCommand(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "entdb.ts"),
      "restore",
      "--from",
      url,
      "--data-dir",
      target.path,
      ...extra,
    ],
    { cwd: REPO_ROOT, env: { ...base, ...env }, timeout: 120_000 },
  );
  return { ...run, dir: target.path };
}

describe("entdb restore's S3 endpoint", () => {
  it("is read from ENTDB_S3_ENDPOINT when --s3-endpoint is not given", async () => {
    const run = await restore([], { ENTDB_S3_ENDPOINT: s3.endpoint });
    expect(run.stderr).not.toContain("error");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `restored ${records} events from 1 segments and 0 snapshots of ${url} into ${run.dir}\n`,
    );
  }, 120_000);

  it("takes --s3-endpoint over ENTDB_S3_ENDPOINT", async () => {
    // The variable names a port nothing listens on: only the flag's endpoint answers.
    const run = await restore(["--s3-endpoint", s3.endpoint], {
      ENTDB_S3_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(run.stderr).not.toContain("error");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`restored ${records} events`);
  }, 120_000);

  it("refuses a bad ENTDB_S3_ENDPOINT as it refuses a bad flag (exit 2)", async () => {
    const run = await restore([], { ENTDB_S3_ENDPOINT: "localhost:9000x" });
    expect(run).toMatchObject({
      code: 2,
      stdout: "",
      stderr:
        "error: The S3 endpoint 'localhost:9000x' is not an http(s) URL; write it like http://127.0.0.1:9000.\n",
    });
  }, 120_000);
});
