/**
 * Test access to the real S3-compatible server run by `tests/infra/s3.sh` (moto, on
 * loopback): start or reuse it, make a fresh bucket per test. A server that cannot start
 * makes the calling test fail with the script's message, never skip. The server is left
 * running for other test files (moto keeps state in memory; buckets are unique per test).
 */

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

const SCRIPT = fileURLToPath(new URL("./s3.sh", import.meta.url));

/** A cold start installs moto from PyPI first. */
const START_TIMEOUT_MS = 600_000;

/** Credentials moto accepts (any non-empty pair); set them in children's environments. */
export const S3_TEST_ENV = {
  AWS_ACCESS_KEY_ID: "entdb-test",
  AWS_SECRET_ACCESS_KEY: "entdb-test-secret",
  AWS_REGION: "us-east-1",
} as const;

/** A running S3 server. */
export interface TestS3 {
  /** `http://127.0.0.1:port`. */
  readonly endpoint: string;
  /** A client of it (path-style, test credentials). */
  readonly client: S3Client;
  /** Creates a bucket with a fresh name and returns the name. */
  newBucket(): Promise<string>;
}

/** Starts (or reuses) the server. */
export async function startTestS3(): Promise<TestS3> {
  const endpoint = await new Promise<string>((resolve, reject) => {
    execFile(SCRIPT, ["start"], { timeout: START_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tests/infra/s3.sh start failed: ${stderr || error.message}`));
      else resolve(stdout.trim().split("\n").at(-1) ?? "");
    });
  });
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint))
    throw new Error(`tests/infra/s3.sh start printed '${endpoint}', not an endpoint URL`);
  for (const [key, value] of Object.entries(S3_TEST_ENV)) process.env[key] ??= value;
  const client = new S3Client({
    endpoint,
    region: S3_TEST_ENV.AWS_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: S3_TEST_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: S3_TEST_ENV.AWS_SECRET_ACCESS_KEY,
    },
  });
  return {
    endpoint,
    client,
    async newBucket() {
      const bucket = `entdb-test-${randomUUID().slice(0, 18)}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
  };
}
