/**
 * The archiver's signed put (server/archive/s3-signed-put.ts) against an S3 that checks
 * signatures: a moto server of its own with IAM checking on (tests/infra/s3-auth-server.ts).
 * S3 refusing a signed put costs no error, only a resend through the SDK client, so the
 * tests read moto's request log to see that each put went out once and was answered 200
 * directly, and that a wrongly signed one is refused (which is what makes the first claim
 * mean something).
 */

import { join } from "node:path";
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Applier, SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  Archiver,
  encodeSegment,
  parseArchiveUrl,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { S3SignedPut } from "../../server/archive/s3-signed-put.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/index.ts";
import { openStore } from "../../server/store/store.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { applyWholeLog } from "../apply/apply-harness.ts";
import { scenario, TENANTS } from "../apply/replay-scenario.ts";
import { type AuthS3, type Credentials, startAuthS3 } from "../infra/s3-auth-server.ts";
import {
  lookupOf,
  schemaChangeEvent,
  served,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
} from "../store/store-fixtures.ts";

const BUCKET = "entdb-signed";
const CREDENTIAL_VARIABLES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_REGION",
];

let s3: AuthS3;
let client: S3Client;
const savedEnv = new Map(CREDENTIAL_VARIABLES.map((name) => [name, process.env[name]]));
const dirs: { remove(): void }[] = [];
const quiet = createLogger("error");

function dir(label: string): string {
  const d = tempDir(label);
  dirs.push(d);
  return d.path;
}

beforeAll(async () => {
  s3 = await startAuthS3();
  client = s3Client(s3.credentials);
  // The bucket is made by the IAM user: a request moto checks already.
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // The archive's store takes its credentials from the standard chain, as in the server.
  process.env["AWS_ACCESS_KEY_ID"] = s3.credentials.accessKeyId;
  process.env["AWS_SECRET_ACCESS_KEY"] = s3.credentials.secretAccessKey;
  process.env["AWS_REGION"] = s3.region;
  delete process.env["AWS_SESSION_TOKEN"];
}, 600_000);

afterAll(async () => {
  for (const [name, value] of savedEnv)
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  client?.destroy();
  await s3?.stop();
  for (const d of dirs) d.remove();
});

function s3Client(credentials: Credentials): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials,
  });
}

/** A signed put to the test bucket whose client holds `credentials`. */
function signedPut(credentials: Credentials): S3SignedPut {
  return new S3SignedPut({
    client: s3Client(credentials),
    bucket: BUCKET,
    endpoint: s3.endpoint,
    connectionTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
  });
}

function store(prefix: string): S3ObjectStore {
  return new S3ObjectStore({
    location: parseArchiveUrl(`s3://${BUCKET}/${prefix}`),
    endpoint: s3.endpoint,
  });
}

/**
 * Statuses of the PUTs moto answered for `key`, in order: the signed put's and the SDK's
 * (which adds `?x-id=PutObject`) alike.
 */
function putsOf(key: string): number[] {
  return s3
    .requests()
    .filter((r) => r.method === "PUT" && r.path === `/${BUCKET}/${key}`)
    .map((r) => r.status);
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return false;
    throw error;
  }
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("the signed put against an S3 that checks signatures", () => {
  it("is accepted as the archiver sends it, answered 200 once with no resend through the SDK", async () => {
    const put = signedPut(s3.credentials);
    expect(await put.put("direct/a.seg", bytes("direct"), { "if-none-match": "*" })).toBe(200);
    put.close();

    const archive = store("accepted");
    const segment = encodeSegment("log-1", [
      { tenant: "t1", payload: bytes("event 0"), position: { partition: 0, offset: 0 } },
      { tenant: "t2", payload: bytes("event 1"), position: { partition: 0, offset: 1 } },
    ]);
    const key = "accepted/wal/p0/0-2.seg";
    expect(await archive.putIfAbsent(key, segment.body, segment.metadata)).toBe("created");
    // The second put of the key is S3's 412, read from the signed put too.
    expect(await archive.putIfAbsent(key, bytes("other"), segment.metadata)).toBe("exists");
    const stored = await archive.get(key);
    archive.close();
    expect(putsOf(key)).toEqual([200, 412]);
    expect(Buffer.from(stored.body).equals(segment.body)).toBe(true);
    expect(stored.metadata).toEqual(segment.metadata);
  });

  it("is refused with a wrong secret key or an unknown access key, and the store's SDK resend is refused too", async () => {
    const wrongSecret = signedPut({
      accessKeyId: s3.credentials.accessKeyId,
      secretAccessKey: `${s3.credentials.secretAccessKey}x`,
    });
    expect(await wrongSecret.put("refused/secret.seg", bytes("x"), { "if-none-match": "*" })).toBe(
      403,
    );
    wrongSecret.close();
    const unknownKey = signedPut({ accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" });
    expect(await unknownKey.put("refused/key.seg", bytes("x"), {})).toBe(403);
    unknownKey.close();
    expect(putsOf("refused/secret.seg")).toEqual([403]);
    expect(putsOf("refused/key.seg")).toEqual([403]);
    expect(await exists("refused/secret.seg")).toBe(false);
    expect(await exists("refused/key.seg")).toBe(false);

    // Through the store, a refused signed put is sent again by the SDK: two requests.
    process.env["AWS_SECRET_ACCESS_KEY"] = `${s3.credentials.secretAccessKey}x`;
    try {
      const archive = store("refused");
      await expect(archive.putIfAbsent("refused/store.seg", bytes("x"), {})).rejects.toThrow(
        `S3 request failed (put refused/store.seg in bucket ${BUCKET}): SignatureDoesNotMatch (HTTP 403): The request signature we calculated does not match the signature you provided. Check your key and signing method.`,
      );
      archive.close();
    } finally {
      process.env["AWS_SECRET_ACCESS_KEY"] = s3.credentials.secretAccessKey;
    }
    expect(putsOf("refused/store.seg")).toEqual([403, 403]);
  });

  it("is accepted with temporary credentials, their session token sent and signed", async () => {
    const role = s3.roleCredentials;
    const put = signedPut(role);
    expect(await put.put("session/direct.seg", bytes("x"), { "if-none-match": "*" })).toBe(200);
    put.close();
    const wrongToken = signedPut({ ...role, sessionToken: `${role.sessionToken}x` });
    // S3's InvalidToken is a 400.
    expect(await wrongToken.put("session/token.seg", bytes("x"), {})).toBe(400);
    wrongToken.close();
    const noToken = signedPut({
      accessKeyId: role.accessKeyId,
      secretAccessKey: role.secretAccessKey,
    });
    expect(await noToken.put("session/none.seg", bytes("x"), {})).toBe(403);
    noToken.close();

    // The store, with the role's credentials from the environment as a server has them.
    process.env["AWS_ACCESS_KEY_ID"] = role.accessKeyId;
    process.env["AWS_SECRET_ACCESS_KEY"] = role.secretAccessKey;
    process.env["AWS_SESSION_TOKEN"] = role.sessionToken;
    try {
      const archive = store("session");
      expect(await archive.putIfAbsent("session/store.seg", bytes("y"), { sha256: "y" })).toBe(
        "created",
      );
      archive.close();
    } finally {
      process.env["AWS_ACCESS_KEY_ID"] = s3.credentials.accessKeyId;
      process.env["AWS_SECRET_ACCESS_KEY"] = s3.credentials.secretAccessKey;
      delete process.env["AWS_SESSION_TOKEN"];
    }
    expect(putsOf("session/direct.seg")).toEqual([200]);
    expect(putsOf("session/token.seg")).toEqual([400]);
    expect(putsOf("session/none.seg")).toEqual([403]);
    expect(putsOf("session/store.seg")).toEqual([200]);
  });

  it("signs keys that need encoding and the archiver's metadata headers as S3 checks them", async () => {
    const archive = store("keys");
    const names = [
      "with space.seg",
      "bang!quote'paren()star*.seg",
      "ünïcødé/日本語/🙂.seg",
      "a=b&c;d,e.seg",
      "plus+tilde~percent%20colon:at@dollar$.seg",
    ];
    const segment = encodeSegment("log-1", [
      { tenant: "t", payload: bytes("e"), position: { partition: 3, offset: 40 } },
    ]);
    for (const name of names) {
      const key = `keys/${name}`;
      expect(await archive.putIfAbsent(key, segment.body, segment.metadata)).toBe("created");
      expect(putsOf(key), key).toEqual([200]);
      const stored = await archive.get(key);
      expect(Buffer.from(stored.body).equals(segment.body), key).toBe(true);
      expect(stored.metadata, key).toEqual(segment.metadata);
    }
    archive.close();
  });

  it("signs a locked put's object-lock headers and Content-MD5 as S3 checks them", async () => {
    const lockedBucket = "entdb-signed-locked";
    await client.send(
      new CreateBucketCommand({ Bucket: lockedBucket, ObjectLockEnabledForBucket: true }),
    );
    const archive = new S3ObjectStore({
      location: parseArchiveUrl(`s3://${lockedBucket}/locked`),
      endpoint: s3.endpoint,
    });
    // A whole second: S3 keeps the retention date to the second.
    const retainUntil = new Date(Math.ceil(Date.now() / 1000) * 1000 + 86_400_000);
    const key = "locked/wal/p0/0-1.seg";
    expect(await archive.putIfAbsent(key, bytes("locked"), { sha256: "x" }, { retainUntil })).toBe(
      "created",
    );
    archive.close();
    expect(
      s3
        .requests()
        .filter((r) => r.method === "PUT" && r.path === `/${lockedBucket}/${key}`)
        .map((r) => r.status),
    ).toEqual([200]);
    const head = await client.send(new HeadObjectCommand({ Bucket: lockedBucket, Key: key }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(head.ObjectLockRetainUntilDate?.getTime()).toBe(retainUntil.getTime());
  });

  it("carries an archiver's flushes, which a restore reads back with every sha256 checked", async () => {
    const source = dir("signed-source");
    const wal = await openEmbeddedWal({ path: join(source, "wal.sqlite"), partitions: 2 });
    const location = parseArchiveUrl(`s3://${BUCKET}/flush`);
    const archive = store("flush");
    let reference: string[];
    try {
      const archiver = await Archiver.start({
        wal,
        store: archive,
        location,
        log: quiet,
        segmentRecords: 7,
        flushIntervalMs: 20,
      });
      await wal.append([
        {
          tenant: SCHEMA_LOG_KEY,
          payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)),
        },
        ...scenario(5),
      ]);
      // The reference: the live applier over the original log.
      const live = openStore({
        dataDir: source,
        schemas: lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2)),
      });
      const applier = new Applier({ wal, store: live });
      await applyWholeLog(applier);
      live.close();
      reference = TENANTS.map((t) => canonicalDump(live.tenantPath(t)));
      await archiver.close(60_000);
    } finally {
      await wal.close();
    }

    const restored = dir("signed-restored");
    const result = await restoreArchive({
      store: archive,
      location,
      dataDir: restored,
      log: quiet,
    });
    archive.close();
    expect(result.parked).toEqual([]);
    expect(TENANTS.map((t) => canonicalDump(join(restored, "tenants", tenantFileName(t))))).toEqual(
      reference,
    );
    // Every segment went up as one signed put answered 200: no refusal, no SDK resend.
    const segmentPuts = s3
      .requests()
      .filter((r) => r.method === "PUT" && r.path.startsWith(`/${BUCKET}/flush/wal/`));
    expect(result.segments).toBeGreaterThan(2);
    expect(segmentPuts.map((r) => `${r.status}${r.query}`)).toEqual(
      Array(result.segments).fill("200"),
    );
    expect(new Set(segmentPuts.map((r) => r.path)).size).toBe(result.segments);
  }, 120_000);
});
