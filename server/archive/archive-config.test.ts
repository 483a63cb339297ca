import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
    expect(() => resolveConfig(BASE, { archive: "http://backups/prod" })).toThrow(
      new ConfigError(
        "--archive: 'http://backups/prod' is not an archive location; write s3://BUCKET/PREFIX (for example s3://backups/entdb/prod) or a directory (/mnt/backup/entdb or file:///mnt/backup/entdb).",
      ),
    );
    expect(() => resolveConfig(BASE, { archive: "s3:/backups/prod" })).toThrow(
      new ConfigError(
        "--archive: 's3:/backups/prod' is not an archive location; write s3://BUCKET/PREFIX (for example s3://backups/entdb/prod) or a directory (/mnt/backup/entdb or file:///mnt/backup/entdb).",
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

describe("--archive with a directory", () => {
  const base = mkdtempSync(join(tmpdir(), "entdb-archive-config-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const archive = (text: string, more: Record<string, string> = {}) =>
    resolveConfig(BASE, { archive: text, ...more }).archive;
  const refused = (text: string, message: string, more: Record<string, string> = {}) => {
    const before = readdirSync(base);
    expect(() => archive(text, more)).toThrow(new ConfigError(message));
    expect(readdirSync(base)).toEqual(before);
  };

  it("takes an absolute path, a file URL or a path relative to the current directory, normalized", () => {
    const snapshots = { intervalSeconds: 3600, keep: 24, maxAgeSeconds: 604_800 };
    mkdirSync(join(base, "there"));
    expect(archive(`${base}/there/`)).toEqual({ url: join(base, "there"), snapshots });
    expect(archive(`file://${base}/there`)?.url).toBe(join(base, "there"));
    expect(archive(`file://localhost${base}/new%20one`)?.url).toBe(join(base, "new one"));
    // A missing directory whose parent exists: entdb serve makes it.
    expect(archive(`${base}//./missing`)?.url).toBe(join(base, "missing"));
    expect(relative(process.cwd(), join(base, "there"))).toMatch(/^\.\.\//);
    expect(archive(relative(process.cwd(), join(base, "there")))?.url).toBe(join(base, "there"));
    expect(parseArchiveUrl("../up/./there", "/srv/entdb").url).toBe("/srv/up/there");
    expect(parseArchiveUrl("rel/dir", "/srv/entdb")).toEqual({
      kind: "dir",
      root: "/srv/entdb/rel/dir",
      prefix: "",
      url: "/srv/entdb/rel/dir",
    });
    expect(parseArchiveUrl("s3://b-1/p")).toEqual({
      kind: "s3",
      bucket: "b-1",
      prefix: "p/",
      url: "s3://b-1/p",
    });
  });

  it("refuses '..', the root, a file, a missing parent and S3-only flags, saying what to fix", () => {
    refused(
      "relative/../x",
      "--archive: 'relative/../x' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).",
    );
    refused(
      `${base}/a/..`,
      `--archive: '${base}/a/..' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).`,
    );
    refused(
      "file:///srv/a/../b",
      "--archive: 'file:///srv/a/../b' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).",
    );
    refused(
      "file:relative",
      "--archive: 'file:relative' is not a usable file URL; write file:///ABSOLUTE/PATH or the path itself.",
    );
    refused(
      "file://backup-host/srv/x",
      "--archive: 'file://backup-host/srv/x' is not a usable file URL (File URL host must be \"localhost\" or empty on linux); write file:///ABSOLUTE/PATH or the path itself.",
    );
    refused(
      "/",
      "--archive: '/' is the file system's root; give the archive a directory of its own.",
    );
    writeFileSync(join(base, "a-file"), "x");
    refused(
      join(base, "a-file"),
      `--archive: The archive directory ${join(base, "a-file")} is a file, not a directory; give --archive a directory (it is made if missing).`,
    );
    refused(
      join(base, "no-parent", "archive"),
      `--archive: The archive directory ${join(base, "no-parent", "archive")} cannot be made: its parent ${join(base, "no-parent")} does not exist. Create the parent (mount the disk) first.`,
    );
    refused(
      join(base, "a-file", "archive"),
      `--archive: The archive directory ${join(base, "a-file", "archive")} cannot be made: its parent ${join(base, "a-file")} is a file. Create the parent (mount the disk) first.`,
    );
    refused(
      base,
      `--s3-endpoint (ENTDB_S3_ENDPOINT) is only used with an s3:// archive, but ${base} is a directory; drop --s3-endpoint or give an s3://BUCKET/PREFIX archive.`,
      { s3Endpoint: "http://127.0.0.1:9000" },
    );
    refused(
      join(base, "data", "archive"),
      `--archive: The archive directory ${join(base, "data", "archive")} and the data dir ${join(base, "data")} overlap: losing, deleting or restoring over the data dir would take the archive with it. Give the archive a directory of its own, on another disk or mount.`,
      { dataDir: join(base, "data") },
    );
    refused(
      base,
      `--archive: The archive directory ${base} and the data dir ${join(base, "data")} overlap: losing, deleting or restoring over the data dir would take the archive with it. Give the archive a directory of its own, on another disk or mount.`,
      { dataDir: join(base, "data") },
    );
    expect(archive(join(base, "data-archive"), { dataDir: join(base, "data") })?.url).toBe(
      join(base, "data-archive"),
    );
    refused(
      base,
      `--archive-lock-days needs an s3:// archive in a bucket with object lock; a directory archive (${base}) has no object lock.`,
      { archiveLockDays: "30" },
    );
  });
});
