/**
 * Test access to the Kinesis-compatible server `tests/infra/kinesis.sh` runs (moto on
 * loopback), or the one named by `ENTDB_TEST_KINESIS_ENDPOINT`: its endpoint and the
 * AWS environment a client or an `entdb serve` child needs to reach it. A server that
 * cannot start makes the calling test fail with the script's message, never skip.
 */

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./kinesis.sh", import.meta.url));

/** Region every test uses (moto accepts any). */
export const TEST_KINESIS_REGION = "us-east-1";

/** Starts (or reuses) the server; resolves with its endpoint URL. */
export function startKinesisServer(timeoutMs = 120_000): Promise<string> {
  const given = process.env["ENTDB_TEST_KINESIS_ENDPOINT"];
  if (given) return Promise.resolve(given);
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [SCRIPT, "start"],
      { timeout: timeoutMs, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const url = stdout.trim().split("\n").at(-1) ?? "";
        if (error === null && url.startsWith("http://")) resolve(url);
        else
          reject(
            new Error(
              `tests/infra/kinesis.sh start failed (${error?.message ?? "no URL"}):\n${stderr}`,
            ),
          );
      },
    );
  });
}

/**
 * The AWS variables for a client of `endpoint`: region, dummy credentials (moto takes any
 * non-empty pair) and `AWS_ENDPOINT_URL_KINESIS`.
 */
export function kinesisTestEnv(endpoint: string): Record<string, string> {
  return {
    AWS_REGION: TEST_KINESIS_REGION,
    AWS_ACCESS_KEY_ID: "entdb-test",
    AWS_SECRET_ACCESS_KEY: "entdb-test",
    AWS_ENDPOINT_URL_KINESIS: endpoint,
  };
}

/** Sets {@link kinesisTestEnv} on this process, for clients made in-process. */
export function useKinesisTestEnv(endpoint: string): void {
  Object.assign(process.env, kinesisTestEnv(endpoint));
}

/** A stream name no earlier run used (`<label>-<random>`). */
export function freshStreamName(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * The environment of an `entdb serve` child on the Kinesis log `stream` at `endpoint`
 * (created with `shards` shards if missing). `ENTDB_WAL=kinesis` and an empty
 * `ENTDB_KAFKA_BROKERS` keep a caller's Kafka settings from selecting another log.
 */
export function kinesisServeEnv(
  endpoint: string,
  stream: string,
  shards: number,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...kinesisTestEnv(endpoint),
    ENTDB_WAL: "kinesis",
    ENTDB_KAFKA_BROKERS: "",
    ENTDB_KINESIS_STREAM: stream,
    ENTDB_KINESIS_SHARDS: String(shards),
    ...extra,
  };
}
