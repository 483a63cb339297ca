import { describe, expect, it } from "vitest";
import { awsKinesisEnv } from "./kinesis-config.ts";
import { ConfigError, configFromEnv, resolveConfig } from "./server-config.ts";

const base = { schema: "schema.entdb", wal: "kinesis" };

function walOf(env: NodeJS.ProcessEnv) {
  return resolveConfig(configFromEnv(env), base).wal;
}

describe("--wal kinesis configuration", () => {
  it("takes the stream, shards and timeout from ENTDB_*, region and endpoint from AWS_*", () => {
    expect(
      walOf({
        ENTDB_KINESIS_STREAM: "prod-wal",
        ENTDB_KINESIS_SHARDS: "16",
        ENTDB_KINESIS_APPEND_TIMEOUT_MS: "5000",
        AWS_REGION: "eu-west-1",
        AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
        AWS_ENDPOINT_URL_KINESIS: "http://127.0.0.1:15200",
      }),
    ).toEqual({
      kind: "kinesis",
      stream: "prod-wal",
      shards: 16,
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:15200",
      appendTimeoutMs: 5000,
    });
    expect(walOf({ ENTDB_KINESIS_STREAM: "s", AWS_DEFAULT_REGION: "us-west-2" })).toEqual({
      kind: "kinesis",
      stream: "s",
      shards: 4,
      region: "us-west-2",
    });
  });

  it("prefers the Kinesis endpoint variable and ignores empty ones", () => {
    expect(awsKinesisEnv({ AWS_ENDPOINT_URL: "http://a", AWS_ENDPOINT_URL_KINESIS: "" })).toEqual({
      region: undefined,
      endpoint: "http://a",
    });
  });

  it("names the variable to set or fix", () => {
    const fails = (env: NodeJS.ProcessEnv, message: string) => {
      expect(() => walOf(env)).toThrow(ConfigError);
      expect(() => walOf(env)).toThrow(message);
    };
    fails(
      { AWS_REGION: "us-east-1" },
      "--wal kinesis needs a stream: set ENTDB_KINESIS_STREAM=name.",
    );
    fails({ ENTDB_KINESIS_STREAM: "s" }, "--wal kinesis needs a region: set AWS_REGION.");
    fails(
      { ENTDB_KINESIS_STREAM: "bad name", AWS_REGION: "us-east-1" },
      "ENTDB_KINESIS_STREAM 'bad name' is not a Kinesis stream name (1-128 letters, digits, '_', '.', '-').",
    );
    fails(
      { ENTDB_KINESIS_STREAM: "s", AWS_REGION: "us-east-1", ENTDB_KINESIS_SHARDS: "0" },
      "ENTDB_KINESIS_SHARDS must be an integer from 1 to 10000, got '0'.",
    );
    fails(
      {
        ENTDB_KINESIS_STREAM: "s",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_KINESIS: "localhost:4566",
      },
      "The Kinesis endpoint 'localhost:4566' (AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL) is not an http(s) URL.",
    );
  });
});
