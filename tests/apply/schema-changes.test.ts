/**
 * Schema version files are derived from the log too: `schemaChangesInLog` finds the
 * versions the server logged, and `restoreSchemaFiles` writes back the ones the data dir
 * lost, so `registerSchema` neither forgets a version nor gives its number to another
 * schema.
 */

import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../../server/apply/applier.ts";
import { restoreLostSchemaFiles, schemaChangesInLog } from "../../server/apply/schema-changes.ts";
import {
  readVersionInfo,
  registerSchema,
  restoreSchemaFiles,
} from "../../server/schema-registry.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
  userFields,
} from "../store/store-fixtures.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dir(): string {
  const d = tempDir("schema-changes");
  cleanups.push(() => d.remove());
  return d.path;
}

describe("schema version files from the log", () => {
  it("finds every version logged under the schema key, the first record of a version standing", async () => {
    const wal = await openEmbeddedWal({ path: join(dir(), "wal.sqlite"), partitions: 2 });
    cleanups.push(() => wal.close());
    const v1 = served(1, TRACKER_V1);
    const v2 = served(2, TRACKER_V2);
    await wal.append([{ tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, v1) }]);
    await wal.append([
      {
        tenant: "acme",
        payload: planEvent("acme", "k", [op.createNode(T.User, "u1", userFields(1))]),
      },
      { tenant: SCHEMA_LOG_KEY, payload: new Uint8Array([0xff, 0x01]) },
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, v2) },
      // A second record of version 1 (another server's): the first one stands.
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V2)) },
    ]);
    expect(await schemaChangesInLog(wal)).toEqual([
      { version: 1, fingerprint: v1.fingerprint, lockJson: v1.lockJson },
      { version: 2, fingerprint: v2.fingerprint, lockJson: v2.lockJson },
    ]);
  });

  it("finds nothing in an empty log", async () => {
    const wal = await openEmbeddedWal({ path: join(dir(), "wal.sqlite"), partitions: 2 });
    cleanups.push(() => wal.close());
    expect(await schemaChangesInLog(wal)).toEqual([]);
  });

  it("writes back the lost version files, so registering the same schema keeps its version", async () => {
    const dataDir = dir();
    const first = await registerSchema(dataDir, TRACKER_V1);
    const second = await registerSchema(dataDir, TRACKER_V2);
    expect(second.current.version).toBe(2);
    const v2File = join(dataDir, "schemas", "v000002.lock.json");
    const v2Text = readFileSync(v2File, "utf8");
    rmSync(join(dataDir, "schemas"), { recursive: true });

    const recorded = [first.current, second.current];
    expect(await restoreSchemaFiles(dataDir, recorded)).toEqual([1, 2]);
    expect(readdirSync(join(dataDir, "schemas"))).toEqual([
      "v000001.lock.json",
      "v000002.lock.json",
    ]);
    expect(readFileSync(v2File, "utf8")).toBe(v2Text);
    expect(await restoreSchemaFiles(dataDir, recorded)).toEqual([]);
    const again = await registerSchema(dataDir, TRACKER_V2);
    expect(again.isNew).toBe(false);
    expect(again.current.version).toBe(2);
  });

  it("writes back who registered each version and when from the log, with the rules it allowed", async () => {
    const dataDir = dir();
    const wal = await openEmbeddedWal({ path: join(dataDir, "wal.sqlite"), partitions: 2 });
    cleanups.push(() => wal.close());
    const v1 = served(1, TRACKER_V1);
    const v2 = served(2, TRACKER_V2);
    const pushed = fromBinary(WalEventSchema, schemaChangeEvent(SCHEMA_LOG_KEY, v2));
    pushed.actor = "user:alice";
    if (pushed.body.case === "schemaChange") pushed.body.value.allowedRules = ["FIELD_REMOVED"];
    await wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, v1) },
      { tenant: SCHEMA_LOG_KEY, payload: toBinary(WalEventSchema, pushed) },
    ]);
    expect(await restoreLostSchemaFiles(dataDir, wal, undefined)).toEqual([1, 2]);
    const at = new Date(T0_MS).toISOString();
    expect(readVersionInfo(dataDir, 1)).toEqual({
      registeredAt: at,
      principal: "system",
      allowedRules: [],
    });
    expect(readVersionInfo(dataDir, 2)).toEqual({
      registeredAt: at,
      principal: "user:alice",
      allowedRules: ["FIELD_REMOVED"],
    });
  });
});
