/**
 * The ranked result sets of relevance-ordered searches, kept in memory so that the pages
 * after the first read the order the first page fixed (docs/search.md, "Pages").
 *
 * bm25 scores depend on the whole table's statistics (document count, average length,
 * how many documents hold each term), so any write to a searched type moves every score
 * a little, and a keyset cursor on (score, seq) can then repeat or skip a hit. A
 * snapshot avoids that: the first page ranks up to {@link SNAPSHOT_MAX_HITS} hits once,
 * and later pages walk that list, re-checking each hit (still there, still readable,
 * still matching) as they go. A walk therefore never repeats a hit and never skips one
 * that is unchanged; a hit created after the first page is not part of it.
 *
 * Bounds: a snapshot is 16 bytes per hit (seq and score); all of them together hold at
 * most `maxBytes`, the least recently used going first, and each lives `ttlMs` after
 * its last use. A cursor whose snapshot is gone is a FAILED_PRECONDITION error, never
 * a silently different page. Snapshots live in this process: a restart, or a tenant
 * moving to another server, expires them.
 */

import { randomBytes } from "node:crypto";

/**
 * Most hits a relevance-ordered search ranks and walks; order by a field to walk more.
 * Ranking the best 1,000 costs about what ranking the best 21 does (SQLite keeps a
 * bounded sorter); the best 10,000 took twice as long for a word in every document.
 */
export const SNAPSHOT_MAX_HITS = 1_000;
/** How long a snapshot is kept after its last page was read. */
export const DEFAULT_SNAPSHOT_TTL_MS = 10 * 60_000;
/** Bytes all snapshots of one reader hold together. */
export const DEFAULT_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** Bookkeeping charged to each snapshot besides its arrays. */
const ENTRY_OVERHEAD = 256;

/** One search's ranked hits, in order: `seqs[i]` scored `scores[i]`. */
export interface SearchSnapshot {
  readonly seqs: BigInt64Array;
  readonly scores: Float64Array;
}

/** What a snapshot was made for; a cursor used for anything else does not find it. */
export interface SnapshotOwner {
  readonly tenant: string;
  /** Digest of the query, types, filters and mailbox. */
  readonly request: string;
  /** The principal whose scope ranked the hits. */
  readonly actor: string;
}

interface Entry extends SnapshotOwner {
  readonly snapshot: SearchSnapshot;
  readonly bytes: number;
  expiresAt: number;
}

/** Options of {@link SearchSnapshots}; defaults above. */
export interface SearchSnapshotOptions {
  readonly ttlMs?: number;
  readonly maxBytes?: number;
  /** The clock, in milliseconds (tests move it). */
  readonly now?: () => number;
}

/** A bounded, expiring map from snapshot id to ranked hits (one per tenant reader). */
export class SearchSnapshots {
  /** In least-recently-used order: a use moves an entry to the end. */
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: SearchSnapshotOptions = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_SNAPSHOT_TTL_MS;
    this.#maxBytes = options.maxBytes ?? DEFAULT_SNAPSHOT_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /** How long a snapshot is kept after its last use. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps `snapshot` for `owner`; returns its id (128 random bits, base64url). */
  put(owner: SnapshotOwner, snapshot: SearchSnapshot): string {
    this.#expire();
    const id = randomBytes(16).toString("base64url");
    const bytes =
      snapshot.seqs.byteLength +
      snapshot.scores.byteLength +
      ENTRY_OVERHEAD +
      owner.request.length +
      owner.tenant.length +
      owner.actor.length;
    this.#entries.set(id, { ...owner, snapshot, bytes, expiresAt: this.#now() + this.#ttlMs });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes || oldest === id) break;
      this.#drop(oldest, entry);
    }
    return id;
  }

  /**
   * The snapshot `id` if it is still kept and was made for `owner`; using it renews its
   * time to live.
   */
  get(id: string, owner: SnapshotOwner): SearchSnapshot | undefined {
    this.#expire();
    const entry = this.#entries.get(id);
    if (
      !entry ||
      entry.tenant !== owner.tenant ||
      entry.request !== owner.request ||
      entry.actor !== owner.actor
    )
      return undefined;
    this.#entries.delete(id);
    entry.expiresAt = this.#now() + this.#ttlMs;
    this.#entries.set(id, entry);
    return entry.snapshot;
  }

  /** Drops expired entries (a use renews its entry, so the oldest expire first). */
  #expire(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#drop(id, entry);
    }
  }

  #drop(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }
}
