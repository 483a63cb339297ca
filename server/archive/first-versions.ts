/**
 * The schema version each tenant's first logged event is applied at, gathered while a
 * restore reads the archive, so a tenant's new file can be copied from a template already
 * migrated to that version (`BulkLoad.prepareVersionTemplate`, server/apply/bulk-load.ts)
 * and its first event migrates nothing.
 *
 * The version is the one the applier migrates the tenant to at that event
 * (`Applier.#applyItem`): a plan's, an access or mailbox change's `schemaVersion`, a schema
 * change's own version. A first entry the applier records as bad (a payload that is no
 * `WalEvent`, an event naming another tenant than its key, a missing version) has none:
 * the applier leaves the tenant at version 0 there, so its file is copied from the
 * unmigrated template, as before. Only a tenant's first entry counts; a tenant that
 * migrates later in the log does so in its batch, as before.
 */

import { decodeWalEvent } from "../apply/wal-event-decode.ts";

/** The first logged entry of each tenant, and the schema version it is applied at. */
export class FirstVersions {
  readonly #versions = new Map<string, number>();
  readonly #seen = new Set<string>();

  /** Notes `payload` logged under `key`; only the key's first entry counts. */
  note(key: string, payload: Uint8Array): void {
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const version = appliedVersion(key, payload);
    if (version !== undefined) this.#versions.set(key, version);
  }

  /** Per tenant (log key) whose first entry has one, the schema version it is applied at. */
  get versions(): ReadonlyMap<string, number> {
    return this.#versions;
  }
}

/** The version the applier brings a tenant to at this entry, or undefined where it records it as bad. */
export function appliedVersion(key: string, payload: Uint8Array): number | undefined {
  let event: ReturnType<typeof decodeWalEvent>;
  try {
    event = decodeWalEvent(payload);
  } catch {
    return undefined;
  }
  if (event.tenant !== key) return undefined;
  const body = event.body;
  const version =
    body.case === "schemaChange"
      ? body.value.version
      : body.case === "plan" || body.case === "access" || body.case === "mailbox"
        ? event.schemaVersion
        : 0;
  return version === 0 ? undefined : version;
}
