/**
 * The `--wal kinesis` settings of `entdb serve`: the stream from `ENTDB_KINESIS_STREAM`,
 * region and endpoint from the standard AWS variables (`AWS_REGION`,
 * `AWS_ENDPOINT_URL_KINESIS` or `AWS_ENDPOINT_URL`); credentials are the AWS SDK's
 * own chain (environment, profile, instance role) and never pass through here.
 */

import { ConfigError } from "./config-error.ts";
import type { Logger } from "./log.ts";
import type { Wal } from "./wal/wal.ts";

/** Which Kinesis stream backs the server. */
export interface KinesisWalConfig {
  readonly kind: "kinesis";
  readonly stream: string;
  /** Shard count of a stream the server creates, and the count it checks on an existing one. */
  readonly shards: number;
  readonly region: string;
  readonly endpoint?: string;
  /** How long an append may wait for Kinesis before the call fails UNAVAILABLE. */
  readonly appendTimeoutMs?: number;
}

/** Raw Kinesis inputs, as strings from the environment. */
export interface KinesisConfigInput {
  readonly stream: string | undefined;
  readonly shards: string | undefined;
  readonly appendTimeoutMs: string | undefined;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
}

/** The region and endpoint variables the AWS SDKs read, in their order of precedence. */
export function awsKinesisEnv(env: NodeJS.ProcessEnv): {
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
} {
  return {
    region: env["AWS_REGION"] || env["AWS_DEFAULT_REGION"] || undefined,
    endpoint: env["AWS_ENDPOINT_URL_KINESIS"] || env["AWS_ENDPOINT_URL"] || undefined,
  };
}

/** Validates the Kinesis settings; throws ConfigError naming the variable to fix. */
export function resolveKinesisConfig(input: KinesisConfigInput): KinesisWalConfig {
  const { stream, region, endpoint } = input;
  if (!stream) {
    throw new ConfigError("--wal kinesis needs a stream: set ENTDB_KINESIS_STREAM=name.");
  }
  // Kinesis's own rule for stream names.
  if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(stream)) {
    throw new ConfigError(
      `ENTDB_KINESIS_STREAM '${stream}' is not a Kinesis stream name (1-128 letters, digits, '_', '.', '-').`,
    );
  }
  if (!region) throw new ConfigError("--wal kinesis needs a region: set AWS_REGION.");
  if (endpoint !== undefined && !/^https?:\/\/\S+$/.test(endpoint)) {
    throw new ConfigError(
      `The Kinesis endpoint '${endpoint}' (AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL) is not an http(s) URL.`,
    );
  }
  return {
    kind: "kinesis",
    stream,
    shards: int(input.shards ?? "4", "ENTDB_KINESIS_SHARDS", 1, 10_000),
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(input.appendTimeoutMs === undefined
      ? {}
      : {
          appendTimeoutMs: int(
            input.appendTimeoutMs,
            "ENTDB_KINESIS_APPEND_TIMEOUT_MS",
            100,
            600_000,
          ),
        }),
  };
}

function int(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max}, got '${text}'.`);
  }
  return n;
}

/**
 * Opens the server's Kinesis log. The AWS SDK is loaded only here, so servers on the
 * other logs never load it.
 */
export async function openServerKinesisWal(config: KinesisWalConfig, log: Logger): Promise<Wal> {
  const { openKinesisWal } = await import("./wal/kinesis-wal.ts");
  const walLog = log.child({ component: "kinesis-wal" });
  return openKinesisWal({
    stream: config.stream,
    partitions: config.shards,
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.appendTimeoutMs === undefined ? {} : { appendTimeoutMs: config.appendTimeoutMs }),
    log: (entry) => {
      if (entry.level === "warn") walLog.warn(entry.message, entry.fields);
      else walLog.info(entry.message, entry.fields);
    },
  });
}
