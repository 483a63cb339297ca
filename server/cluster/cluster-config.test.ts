import { describe, expect, it } from "vitest";
import { ConfigError, configFromEnv, resolveConfig } from "../server-config.ts";

const KAFKA = { schema: "s.entdb", kafkaBrokers: "127.0.0.1:9092" };

describe("--cluster", () => {
  it("is absent by default, and read from the flags or the environment", () => {
    expect(resolveConfig(KAFKA).cluster).toBeUndefined();
    expect(
      resolveConfig(KAFKA, { cluster: "prod", advertise: "http://10.0.0.5:50051/" }).cluster,
    ).toEqual({ group: "prod", advertise: "http://10.0.0.5:50051", sessionTimeoutMs: 10_000 });
    const env = configFromEnv({
      ENTDB_CLUSTER: "prod",
      ENTDB_ADVERTISE: "https://db-1.example.com",
      ENTDB_CLUSTER_SESSION_TIMEOUT_MS: "6000",
    });
    expect(resolveConfig(env, KAFKA).cluster).toEqual({
      group: "prod",
      advertise: "https://db-1.example.com",
      sessionTimeoutMs: 6_000,
    });
  });

  it("needs the Kafka log", () => {
    expect(() =>
      resolveConfig({ schema: "s.entdb", cluster: "prod", advertise: "http://10.0.0.5:50051" }),
    ).toThrow(
      new ConfigError(
        "--cluster needs the Kafka log (its consumer group is the cluster); this server uses the embedded log. Set ENTDB_KAFKA_BROKERS.",
      ),
    );
  });

  it("needs an http(s) base URL to advertise", () => {
    expect(() => resolveConfig(KAFKA, { cluster: "prod" })).toThrow(/needs --advertise URL/);
    expect(() => resolveConfig(KAFKA, { cluster: "prod", advertise: "10.0.0.5:50051" })).toThrow(
      new ConfigError(
        "--advertise '10.0.0.5:50051' must be an http:// or https:// base URL without a path, e.g. http://10.0.0.5:50051.",
      ),
    );
    expect(() =>
      resolveConfig(KAFKA, { cluster: "prod", advertise: "http://10.0.0.5:50051/api" }),
    ).toThrow(/without a path/);
  });

  it("takes serving threads, and refuses its options without it", () => {
    const threaded = resolveConfig(KAFKA, {
      cluster: "prod",
      advertise: "http://10.0.0.5:50051",
      serveThreads: "2",
    });
    expect([threaded.cluster?.group, threaded.serveThreads]).toEqual(["prod", 2]);
    expect(() => resolveConfig(KAFKA, { advertise: "http://10.0.0.5:50051" })).toThrow(
      new ConfigError(
        "--advertise and --cluster-session-timeout need --cluster GROUP (env ENTDB_CLUSTER).",
      ),
    );
  });

  it("rejects a session timeout out of range", () => {
    expect(() =>
      resolveConfig(KAFKA, {
        cluster: "prod",
        advertise: "http://10.0.0.5:50051",
        clusterSessionTimeoutMs: "500",
      }),
    ).toThrow(/--cluster-session-timeout must be an integer from 1000 to 1800000, got '500'/);
  });
});
