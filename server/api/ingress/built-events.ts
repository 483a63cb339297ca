/**
 * The events this process built at ingress and is logging, so the applier can apply the
 * event ingress built instead of decoding the logged bytes back into the same event.
 *
 * What makes that safe: an event is registered with the exact bytes the log was handed
 * (`toBinary` of it), and `take` hands it out only for a log entry of the same tenant
 * whose payload is byte for byte those bytes. Decoding those bytes gives the same event
 * because ingress refuses everything that would not survive the round trip: every string
 * of a plan event is well-formed UTF-16 (a lone surrogate is written as U+FFFD;
 * `loneSurrogateAt`), and every number comes from a decoded request or from ingress
 * itself, so it is in its field's range. `tests/apply/built-events.test.ts` applies random
 * plans both ways and compares the canonical dumps. A replay, another process or an entry
 * read back from the file decodes the bytes as before.
 *
 * Assumes a registered event is not changed after it was encoded. Entries live until the
 * applier takes them or their writer releases them (after waiting for the apply, or when
 * the append fails), so nothing outlives its request.
 */

import type { WalEvent } from "../../../generated/entdb/v1/wal_pb.js";
import type { BuiltEvents } from "../../engine.ts";

interface Built {
  readonly payload: Uint8Array;
  readonly event: WalEvent;
}

/** See the module comment. */
export class BuiltEventRegistry implements BuiltEvents {
  /** Per tenant, in registration order (the log's order for one tenant, nearly always). */
  readonly #byTenant = new Map<string, Built[]>();
  #taken = 0;

  /**
   * Registers `event`, whose encoding is `payload`, as it is handed to the log under
   * `tenant`; the returned function releases it if the applier has not taken it.
   */
  add(tenant: string, payload: Uint8Array, event: WalEvent): () => void {
    const built: Built = { payload, event };
    const list = this.#byTenant.get(tenant);
    if (list === undefined) this.#byTenant.set(tenant, [built]);
    else list.push(built);
    return () => this.#remove(tenant, built);
  }

  take(tenant: string, payload: Uint8Array): WalEvent | undefined {
    const list = this.#byTenant.get(tenant);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const built = list[i]!;
      if (!sameBytes(built.payload, payload)) continue;
      if (list.length === 1) this.#byTenant.delete(tenant);
      else list.splice(i, 1);
      this.#taken++;
      return built.event;
    }
    return undefined;
  }

  /** Events handed to the applier since start. */
  get taken(): number {
    return this.#taken;
  }

  /** Events registered and neither taken nor released. */
  get pending(): number {
    let n = 0;
    for (const list of this.#byTenant.values()) n += list.length;
    return n;
  }

  #remove(tenant: string, built: Built): void {
    const list = this.#byTenant.get(tenant);
    if (list === undefined) return;
    const i = list.indexOf(built);
    if (i < 0) return;
    if (list.length === 1) this.#byTenant.delete(tenant);
    else list.splice(i, 1);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}
