/**
 * The schema versions the log records: the `SchemaChange` events the server appended
 * under {@link SCHEMA_LOG_KEY}. Read at start when `meta.sqlite` (which keeps them as the
 * applier sees them) was rebuilt, so deleted schema version files can be written again
 * from the source of truth (`server/schema-registry.ts`).
 */

import { fromBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import {
  type RegistryWrite,
  readVersionInfo,
  restoreSchemaFiles,
  type VersionInfo,
  writeVersionInfo,
} from "../schema-registry.ts";
import type { RecordedSchema } from "../store/meta-db.ts";
import type { Wal } from "../wal/wal.ts";
import { SCHEMA_LOG_KEY } from "./applier.ts";

/**
 * Every schema version logged under {@link SCHEMA_LOG_KEY} below the log end at the time
 * of the call, the first record of a version standing (as in `meta.sqlite`). Reads only
 * that key's partition; an entry that does not decode is skipped (the applier records it).
 */
export async function schemaChangesInLog(wal: Wal): Promise<RecordedSchema[]> {
  return (await loggedSchemaVersions(wal)).map(({ info: _info, ...recorded }) => recorded);
}

/** A version the log records, with who logged it and when. */
interface LoggedVersion extends RecordedSchema {
  readonly info: VersionInfo;
}

async function loggedSchemaVersions(wal: Wal): Promise<LoggedVersion[]> {
  const partition = wal.partitionFor(SCHEMA_LOG_KEY);
  const end = await wal.endOffset(partition);
  const found = new Map<number, LoggedVersion>();
  if (end === 0) return [];
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  // Below the log start (embedded local retention) nothing is left to read; the versions
  // logged there are in meta.sqlite and schemas/, which a rebuild from the log needs anyway.
  const start =
    "logStart" in wal && typeof wal.logStart === "function" ? Number(wal.logStart(partition)) : 0;
  const subscription = wal.subscribe({
    startOffset: async (p) => (p === partition ? start : await wal.endOffset(p)),
    handler: async (entries) => {
      for (const entry of entries) {
        if (entry.position.partition !== partition || entry.position.offset >= end) continue;
        if (entry.tenant === SCHEMA_LOG_KEY) {
          try {
            const event = fromBinary(WalEventSchema, entry.payload);
            if (event.body.case === "schemaChange" && !found.has(event.body.value.version)) {
              const change = event.body.value;
              found.set(change.version, {
                version: change.version,
                fingerprint: change.fingerprint,
                lockJson: change.lockJson,
                info: {
                  registeredAt: event.ingressTime
                    ? timestampDate(event.ingressTime).toISOString()
                    : "",
                  principal: event.actor,
                  allowedRules: [...change.allowedRules],
                },
              });
            }
          } catch {
            // Not a WalEvent: the applier records it as a bad event.
          }
        }
        if (entry.position.offset === end - 1) finish();
      }
    },
  });
  try {
    await Promise.race([finished, subscription.done]);
  } finally {
    await subscription.stop();
  }
  await subscription.done;
  return [...found.values()].sort((a, b) => a.version - b.version);
}

/**
 * Writes back the schema version files `<dataDir>/schemas` lost, before the schema is
 * registered. From `recorded` (what `meta.sqlite` saw; `undefined` when it was rebuilt),
 * and from the log itself when meta was rebuilt or a file was missing, since meta may
 * not yet hold a version logged just before a crash. Returns the versions written.
 * `how`: `unsynced` for a restore, which syncs them at its end (`RegistryWrite`).
 */
export async function restoreLostSchemaFiles(
  dataDir: string,
  wal: Wal,
  recorded: readonly RecordedSchema[] | undefined,
  how: RegistryWrite = "durable",
): Promise<number[]> {
  const fromMeta = recorded ? await restoreSchemaFiles(dataDir, recorded, how) : [];
  if (recorded !== undefined && fromMeta.length === 0) return [];
  const logged = await loggedSchemaVersions(wal);
  const fromLog = await restoreSchemaFiles(dataDir, logged, how);
  for (const { version, info } of logged) {
    if (!readVersionInfo(dataDir, version)) await writeVersionInfo(dataDir, version, info, how);
  }
  return [...fromMeta, ...fromLog].sort((a, b) => a - b);
}
