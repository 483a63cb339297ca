import { describe, expect, it } from "vitest";
import { ConfigError, configFromEnv, resolveConfig } from "./server-config.ts";

describe("ENTDB_SUBSCRIBER_BUFFER", () => {
  it("defaults to 10,000 events and is read from the environment", () => {
    expect(resolveConfig({ schema: "s.entdb" }).subscriberBuffer).toBe(10_000);
    const env = configFromEnv({ ENTDB_SUBSCRIBER_BUFFER: "50" });
    expect(resolveConfig(env, { schema: "s.entdb" }).subscriberBuffer).toBe(50);
  });

  it("rejects a value that is not a positive integer, saying which are allowed", () => {
    expect(() => resolveConfig({ schema: "s.entdb", subscriberBuffer: "0" })).toThrow(
      new ConfigError("ENTDB_SUBSCRIBER_BUFFER must be an integer from 1 to 1000000, got '0'."),
    );
  });
});

describe("ENTDB_SUBSCRIBER_HEARTBEAT_MS", () => {
  it("defaults to 15 seconds and is read from the environment", () => {
    expect(resolveConfig({ schema: "s.entdb" }).subscriberHeartbeatMs).toBe(15_000);
    const env = configFromEnv({ ENTDB_SUBSCRIBER_HEARTBEAT_MS: "250" });
    expect(resolveConfig(env, { schema: "s.entdb" }).subscriberHeartbeatMs).toBe(250);
  });

  it("rejects a value out of range, saying which are allowed", () => {
    expect(() => resolveConfig({ schema: "s.entdb", subscriberHeartbeatMs: "5" })).toThrow(
      new ConfigError(
        "ENTDB_SUBSCRIBER_HEARTBEAT_MS must be an integer from 10 to 3600000, got '5'.",
      ),
    );
  });
});
