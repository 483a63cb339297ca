/**
 * Schema versions on a cluster (`--cluster`, docs/kafka.md "Several servers"): how a new
 * version is logged so that every server learns it, and which of two racing versions wins.
 *
 * The partition of {@link SCHEMA_LOG_KEY} (the *home* partition) orders the versions: a
 * version is registered by its first `SchemaChange` record there, and a later record of
 * the same version number is a push that lost the race (replay ignores it, as every
 * applier records the first record of a version only). Once its home record won, the
 * change is copied into every other partition, under a key that lands there and is no
 * tenant id ({@link schemaKeyFor}), so the applier of each partition reaches it in that
 * partition's order: its owner learns the version there, and a plan of that version
 * logged after the copies always finds the model in the owner's `meta.sqlite`. Only once
 * every copy is durable does the pushing server serve the version.
 *
 * Assumes the caller runs one registration at a time (the push queue) and read the home
 * partition up to its end ({@link ClusterSchemaLog.read}) before deciding the version
 * number, so a record of the same number logged before its own is one raced in since.
 */

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../apply/applier.ts";
import type { VersionInfo } from "../schema-registry.ts";
import { readRange } from "../wal/read-range.ts";
import type { Wal, WalPosition } from "../wal/wal.ts";

/** A version as its `SchemaChange` record in the home partition gives it. */
export interface LoggedSchemaChange {
  readonly version: number;
  readonly fingerprint: string;
  readonly lockJson: string;
  readonly info: VersionInfo;
  /** The record's offset in the home partition. */
  readonly offset: number;
}

/** Another version of the same number was logged first; nothing of this one is served. */
export class SchemaRaceLostError extends Error {
  override readonly name = "SchemaRaceLostError";
  readonly code = "schema-race-lost";
  /** The version that won (its number is the one this change wanted). */
  readonly winner: LoggedSchemaChange;
  constructor(winner: LoggedSchemaChange) {
    super(
      `Another server registered schema version ${winner.version} first (fingerprint ${winner.fingerprint.slice(0, 12)}); nothing of this change is served.`,
    );
    this.winner = winner;
  }
}

/**
 * The key a schema change is logged under to reach `partition`: {@link SCHEMA_LOG_KEY}
 * in its own partition, else `#schema/<k>` with the least k that lands in `partition`.
 * Never a tenant id, so every applier takes the record as an announcement.
 */
export function schemaKeyFor(wal: Pick<Wal, "partitionFor">, partition: number): string {
  if (wal.partitionFor(SCHEMA_LOG_KEY) === partition) return SCHEMA_LOG_KEY;
  for (let k = 1; ; k++) {
    const key = `${SCHEMA_LOG_KEY}/${k}`;
    if (wal.partitionFor(key) === partition) return key;
  }
}

/** The version a `SchemaChange` event carries, or undefined for any other event. */
export function loggedChange(event: WalEvent, offset: number): LoggedSchemaChange | undefined {
  if (event.body.case !== "schemaChange") return undefined;
  const change = event.body.value;
  return {
    version: change.version,
    fingerprint: change.fingerprint,
    lockJson: change.lockJson,
    info: {
      registeredAt: event.ingressTime ? timestampDate(event.ingressTime).toISOString() : "",
      principal: event.actor,
      allowedRules: [...change.allowedRules],
    },
    offset,
  };
}

/** Reads the home partition as it grows, and logs schema changes to every partition. */
export class ClusterSchemaLog {
  readonly #wal: Wal;
  /** The next home offset to read. */
  #next: number;
  /** Versions read so far, the first record of each. */
  readonly #seen = new Map<number, LoggedSchemaChange>();

  constructor(wal: Wal) {
    this.#wal = wal;
    this.#next = wal.logStart?.(this.home) ?? 0;
  }

  /** The partition whose order decides between versions. */
  get home(): number {
    return this.#wal.partitionFor(SCHEMA_LOG_KEY);
  }

  /**
   * The versions first logged in the home partition between the last read and `to`
   * (default: its end now), in log order. An entry that does not decode is passed over
   * (the applier records it).
   */
  async read(to?: number): Promise<LoggedSchemaChange[]> {
    const end = to ?? (await this.#wal.endOffset(this.home));
    const found: LoggedSchemaChange[] = [];
    for await (const entries of readRange(this.#wal, this.home, this.#next, end)) {
      for (const entry of entries) {
        this.#next = entry.position.offset + 1;
        if (entry.tenant !== SCHEMA_LOG_KEY) continue;
        let event: WalEvent;
        try {
          event = fromBinary(WalEventSchema, entry.payload);
        } catch {
          continue;
        }
        const change = loggedChange(event, entry.position.offset);
        if (change && !this.#seen.has(change.version)) {
          this.#seen.set(change.version, change);
          found.push(change);
        }
      }
    }
    if (this.#next < end) this.#next = end;
    return found;
  }

  /** Every version read so far (the first record of each), in version order. */
  logged(): LoggedSchemaChange[] {
    return [...this.#seen.values()].sort((a, b) => a.version - b.version);
  }

  /**
   * Logs `event` (a `SchemaChange`) in the home partition, then, if its version won
   * there, in every other partition. Resolves with the home record's position once every
   * record is durable and whether the version was logged by another change first with
   * the same schema (`identical`: this one is a no-op). Throws
   * {@link SchemaRaceLostError} when another schema took the version number first; the
   * records of that other version are then among what {@link read} returned.
   */
  async log(
    event: WalEvent,
  ): Promise<{ readonly position: WalPosition; readonly identical: boolean }> {
    if (event.body.case !== "schemaChange") throw new TypeError("not a schema change");
    const change = event.body.value;
    const [position] = await this.#wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: toBinary(WalEventSchema, event) },
    ]);
    if (!position) throw new Error("the log returned no position for the schema change");
    await this.read(position.offset + 1);
    const first = this.#seen.get(change.version);
    if (first && first.offset !== position.offset && first.fingerprint !== change.fingerprint)
      throw new SchemaRaceLostError(first);
    await this.copy(event);
    return { position, identical: first !== undefined && first.offset !== position.offset };
  }

  /**
   * Logs `event` in every partition but the home one. Copies of a version already logged
   * there change nothing (the first record of a version stands), so a change interrupted
   * between its home record and its copies is completed by logging it again.
   */
  async copy(event: WalEvent): Promise<void> {
    const records = [];
    for (let p = 0; p < this.#wal.partitions; p++) {
      if (p === this.home) continue;
      // An event names the key it is logged under (the applier records one that does not as bad).
      const tenant = schemaKeyFor(this.#wal, p);
      records.push({ tenant, payload: toBinary(WalEventSchema, { ...event, tenant }) });
    }
    if (records.length > 0) await this.#wal.append(records);
  }
}
