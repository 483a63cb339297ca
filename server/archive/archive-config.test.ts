import { describe, expect, it } from "vitest";
import { ConfigError, configFromEnv, resolveConfig } from "../server-config.ts";
import { parseArchiveUrl } from "./archive-location.ts";

const BASE = { schema: "s.entdb" };

describe("--archive and --s3-endpoint", () => {
  it("normalizes the location and takes the flag or ENTDB_ARCHIVE", () => {
    expect(resolveConfig(BASE).archive).toBeUndefined();
    const snapshots = { intervalSeconds: 3600, keep: 24, maxAgeSeconds: 604_800 };
    expect(resolveConfig(BASE, { archive: "s3://backups/entdb/prod/" }).archive).toEqual({
      url: "s3://backups/entdb/prod",
      snapshots,
    });
    const env = configFromEnv({
      ENTDB_ARCHIVE: "s3://backups",
      ENTDB_S3_ENDPOINT: "http://127.0.0.1:9000",
    });
    expect(resolveConfig(env, BASE).archive).toEqual({
      url: "s3://backups/",
      endpoint: "http://127.0.0.1:9000",
      snapshots,
    });
    expect(
      resolveConfig(BASE, {
        archive: "s3://backups/p",
        snapshotInterval: "0",
        snapshotKeep: "3",
        snapshotMaxAge: "60",
      }).archive?.snapshots,
    ).toEqual({ intervalSeconds: 0, keep: 3, maxAgeSeconds: 60 });
    expect(
      resolveConfig(BASE, { archive: "s3://backups/p", archiveLockDays: "30" }).archive?.lockDays,
    ).toBe(30);
  });

  it("refuses a bad location or endpoint, saying what to write", () => {
    expect(() => resolveConfig(BASE, { archive: "backups/prod" })).toThrow(
      new ConfigError(
        "--archive: 'backups/prod' is not an archive location; write s3://BUCKET/PREFIX (for example s3://backups/entdb/prod).",
      ),
    );
    expect(() => resolveConfig(BASE, { archive: "s3://Backups/prod" })).toThrow(
      new ConfigError(
        "--archive: 'Backups' in 's3://Backups/prod' is not a valid bucket name: 3-63 lower-case letters, digits, '.' and '-'.",
      ),
    );
    expect(() =>
      resolveConfig(BASE, { archive: "s3://backups/prod", s3Endpoint: "localhost:9000x" }),
    ).toThrow(
      new ConfigError(
        "--s3-endpoint: The S3 endpoint 'localhost:9000x' is not an http(s) URL; write it like http://127.0.0.1:9000.",
      ),
    );
    expect(() => resolveConfig(BASE, { archive: "s3://backups/p", snapshotKeep: "0" })).toThrow(
      new ConfigError("--snapshot-keep must be an integer from 1 to 100000, got '0'."),
    );
    expect(() => resolveConfig(BASE, { s3Endpoint: "http://127.0.0.1:9000" })).toThrow(
      new ConfigError("--s3-endpoint is only used with --archive s3://BUCKET/PREFIX."),
    );
  });

  it("keys prefixes under the prefix only", () => {
    expect(parseArchiveUrl("s3://b-1/a//b/").prefix).toBe("a/b/");
    expect(parseArchiveUrl("s3://b-1").prefix).toBe("");
  });
});
