import { describe, expect, it } from "vitest";
import { ConfigError, configFromEnv, resolveConfig } from "./server-config.ts";

const TOKENS = { schema: "s.entdb", tokens: "tok-0123456789abcdef=user:alice" };

describe("--public-reads", () => {
  it("is off by default and on with the flag or ENTDB_PUBLIC_READS=true", () => {
    expect(resolveConfig(TOKENS).publicReads).toBe(false);
    expect(resolveConfig(TOKENS, { publicReads: "true" }).publicReads).toBe(true);
    const env = configFromEnv({ ENTDB_PUBLIC_READS: "true" });
    expect(resolveConfig(env, TOKENS).publicReads).toBe(true);
    expect(resolveConfig(TOKENS, { publicReads: "false" }).publicReads).toBe(false);
  });

  it("rejects any other value, saying what to set", () => {
    expect(() => resolveConfig(TOKENS, { publicReads: "yes" })).toThrow(
      new ConfigError("ENTDB_PUBLIC_READS is 'yes'; set it to true or false."),
    );
  });
});
