import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../apply/applier.ts";
import { openEmbeddedWal } from "../wal/embedded-wal.ts";
import { readRange } from "../wal/read-range.ts";
import type { Wal } from "../wal/wal.ts";
import { ClusterSchemaLog, SchemaRaceLostError, schemaKeyFor } from "./cluster-schema-log.ts";

const PARTITIONS = 4;
const dirs: string[] = [];
const wals: Wal[] = [];

afterEach(async () => {
  for (const wal of wals.splice(0)) await wal.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openWal(): Promise<Wal> {
  const dir = mkdtempSync(join(tmpdir(), "entdb-cluster-schema-"));
  dirs.push(dir);
  const wal = await openEmbeddedWal({ path: join(dir, "wal.sqlite"), partitions: PARTITIONS });
  wals.push(wal);
  return wal;
}

function change(version: number, fingerprint: string): WalEvent {
  return create(WalEventSchema, {
    tenant: SCHEMA_LOG_KEY,
    actor: "user:alice",
    schemaVersion: version,
    body: {
      case: "schemaChange",
      value: { version, fingerprint, lockJson: `{"v":"${fingerprint}"}` },
    },
  });
}

/** The (key, version, fingerprint) of every record of `partition`. */
async function records(wal: Wal, partition: number) {
  const found: [string, number, string][] = [];
  const end = await wal.endOffset(partition);
  for await (const entries of readRange(wal, partition, 0, end))
    for (const e of entries) {
      const event = fromBinary(WalEventSchema, e.payload);
      expect(event.tenant).toBe(e.tenant);
      if (event.body.case === "schemaChange")
        found.push([e.tenant, event.body.value.version, event.body.value.fingerprint]);
    }
  return found;
}

describe("ClusterSchemaLog", () => {
  it("gives each partition a key of its own that is no tenant id", async () => {
    const wal = await openWal();
    const keys = Array.from({ length: PARTITIONS }, (_, p) => schemaKeyFor(wal, p));
    expect(keys.map((k) => wal.partitionFor(k))).toEqual([0, 1, 2, 3]);
    expect(keys).toContain(SCHEMA_LOG_KEY);
    for (const key of keys) expect(key.startsWith("#schema")).toBe(true);
  });

  it("logs a version in its home partition, then copies it into every other", async () => {
    const wal = await openWal();
    const log = new ClusterSchemaLog(wal);
    expect(await log.read()).toEqual([]);
    const { position, identical } = await log.log(change(2, "fp-a"));
    expect(identical).toBe(false);
    expect(position.partition).toBe(log.home);
    for (let p = 0; p < PARTITIONS; p++)
      expect(await records(wal, p)).toEqual([[schemaKeyFor(wal, p), 2, "fp-a"]]);
    expect(log.logged().map((v) => [v.version, v.fingerprint, v.info.principal])).toEqual([
      [2, "fp-a", "user:alice"],
    ]);
  });

  it("refuses the second of two racing versions of one number, and copies only the first", async () => {
    const wal = await openWal();
    const first = new ClusterSchemaLog(wal);
    const second = new ClusterSchemaLog(wal);
    // Both read the log before either logged: each believes version 2 is free.
    await first.read();
    await second.read();
    await first.log(change(2, "fp-a"));
    const lost = await second.log(change(2, "fp-b")).catch((err: unknown) => err);
    expect(lost).toBeInstanceOf(SchemaRaceLostError);
    expect((lost as SchemaRaceLostError).winner.fingerprint).toBe("fp-a");
    expect((lost as SchemaRaceLostError).message).toMatch(
      /^Another server registered schema version 2 first/,
    );
    expect(second.logged().map((v) => v.fingerprint)).toEqual(["fp-a"]);
    const home = first.home;
    expect(await records(wal, home)).toEqual([
      [SCHEMA_LOG_KEY, 2, "fp-a"],
      [SCHEMA_LOG_KEY, 2, "fp-b"],
    ]);
    for (let p = 0; p < PARTITIONS; p++)
      if (p !== home) expect(await records(wal, p)).toEqual([[schemaKeyFor(wal, p), 2, "fp-a"]]);
  });

  it("answers a racing push of the same schema as identical", async () => {
    const wal = await openWal();
    const first = new ClusterSchemaLog(wal);
    const second = new ClusterSchemaLog(wal);
    await first.read();
    await second.read();
    expect((await first.log(change(2, "fp-a"))).identical).toBe(false);
    expect((await second.log(change(2, "fp-a"))).identical).toBe(true);
  });
});
