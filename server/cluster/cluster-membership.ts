/**
 * One server's place in a cluster: several `entdb serve` processes on one Kafka log share
 * a consumer group, and each owns the tenants of the partitions Kafka assigns it
 * (DESIGN.md "Scale"; docs/kafka.md "Several servers").
 *
 * What it guarantees:
 * - The applier is a member of the group ({@link member}): it is delivered only the
 *   partitions this server owns, from its own checkpoint for each (`meta.sqlite`), never
 *   from the group's committed offsets; a partition it loses stops being delivered at the
 *   rebalance (kafkajs finishes a running batch first).
 * - {@link check} is the one gate of every call: a tenant is served here only while its
 *   partition is assigned here, the member's session is known to be alive (a heartbeat
 *   answered within half the session timeout), no rebalance is under way, and the
 *   partition has been applied up to where the log ended when it was assigned. Otherwise
 *   the call fails before it reads or logs anything: with the owner's URL when the group
 *   names one, else UNAVAILABLE with a retry hint.
 * - {@link shared} mirrors what {@link check} decides per partition in memory the
 *   serving threads read (served-partitions.ts), so they serve only what this thread would.
 * - {@link onShrink} listeners run when what this server serves may have shrunk: a
 *   rebalance began, an assignment arrived, the lease ran out. The server ends there the
 *   waits of calls that passed {@link check} before (a read's `after_position`, a write
 *   waiting for its apply), each with what {@link check} answers now, instead of letting
 *   them run to their timeout on a partition this server no longer applies.
 *
 * Fencing: the coordinator gives a member's partitions away only after its session timed
 * out (no heartbeat for the session timeout) or after it rejoined for a rebalance. This
 * server stops serving at the first sign of a rebalance, and when its last answered
 * heartbeat is half a session old, so a server cut off from Kafka stops serving before
 * the coordinator can assign its partitions to another (assuming the two clocks run at
 * about the same rate, and an answer takes less than half a session to arrive). What it
 * does not fence: a write it checked before that moment and appends after it. That write
 * is still ordered by the log and applied by the new owner; this server cannot apply it,
 * so the call fails (the applier wait times out) and the client's retry with the same
 * idempotency key gets the outcome from the new owner.
 */

import { performance } from "node:perf_hooks";
import type { KafkaGroupMember, KafkaWal } from "../wal/kafka-wal.ts";
import { assignedPartitions, createClusterAssigner, memberUrl } from "./cluster-assigner.ts";
import { ServedPartitions } from "./served-partitions.ts";
import { ownedByNoOne, ownedElsewhere } from "./tenant-owner-error.ts";

/** Default session timeout of a cluster member, in ms (Kafka's own default for consumers). */
export const DEFAULT_CLUSTER_SESSION_TIMEOUT_MS = 10_000;

/** What a server needs to join a cluster. */
export interface ClusterOptions {
  /** The consumer group every server of the cluster joins. */
  readonly group: string;
  /** The base URL clients reach this server's API at; other servers redirect to it. */
  readonly advertise: string;
  /** The group's session timeout in ms (default {@link DEFAULT_CLUSTER_SESSION_TIMEOUT_MS}). */
  readonly sessionTimeoutMs?: number;
}

/** A log line sink: `cluster` events are info, failures to read the group warn. */
export interface ClusterLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
}

interface Owned {
  /** The log end when the partition was assigned: served once applied up to it. */
  target: number | undefined;
  caughtUp: boolean;
  /** Whether `shared` says it is served (caught up, and no tenant of it held by a rebuild). */
  shared: boolean;
}

/** How long a caller is asked to wait while no one serves its tenant. */
const RETRY_AFTER_MS = 500;
/** How often partitions being caught up are looked at. */
const CATCH_UP_POLL_MS = 100;
/** Least time between two reads of the group's members for an unknown owner. */
const DESCRIBE_EVERY_MS = 200;

/** This server's membership of a cluster; see the top of the file. */
export class ClusterMembership {
  readonly group: string;
  readonly url: string;
  readonly sessionTimeoutMs: number;
  /** What the applier's subscription is told (`KafkaWal.subscribeInGroup`). */
  readonly member: KafkaGroupMember;
  /** The partitions served now, for the serving threads (served-partitions.ts). */
  readonly shared: ServedPartitions;
  readonly #wal: KafkaWal;
  readonly #processed: (partition: number) => number;
  readonly #log: ClusterLog;
  /** Whether a tenant of the partition is held while it is rebuilt (`Store.rebuildingIn`). */
  readonly #rebuilding: (partition: number) => boolean;
  readonly #owned = new Map<number, Owned>();
  /** Partition → owner URL, from the last description of a stable group. */
  #owners = new Map<number, string>();
  /** Set from an assignment until the next sign of a rebalance. */
  #assigned = false;
  /** performance.now() until which this member's session is known to be alive. */
  #leaseUntil = 0;
  #generation = 0;
  #describing: Promise<void> | undefined;
  #lastDescribe = 0;
  #closed = false;
  #catchUpTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last assignment, for the catch-up's log line. */
  #assignedAt = 0;
  readonly #shrinkListeners: (() => void)[] = [];
  /** Fires when the lease runs out unless a heartbeat renewed it (then it is set again). */
  #leaseTimer: NodeJS.Timeout | undefined;

  constructor(
    options: ClusterOptions,
    wal: KafkaWal,
    processedOffset: (partition: number) => number,
    log: ClusterLog,
    rebuilding: (partition: number) => boolean = () => false,
  ) {
    this.group = options.group;
    this.url = options.advertise;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_CLUSTER_SESSION_TIMEOUT_MS;
    this.#wal = wal;
    this.#processed = processedOffset;
    this.#log = log;
    this.#rebuilding = rebuilding;
    this.shared = new ServedPartitions(wal.partitions);
    this.member = {
      sessionTimeoutMs: this.sessionTimeoutMs,
      assigner: createClusterAssigner(this.url, wal.partitions),
      onAssigned: (partitions, memberId) => this.#onAssigned(partitions, memberId),
      onUnassigned: () => this.#onUnassigned(),
      onHeartbeat: () => this.#renew(),
    };
  }

  /** The partitions this server owns now (empty during a rebalance). */
  ownedPartitions(): number[] {
    return this.#assigned ? [...this.#owned.keys()].sort((a, b) => a - b) : [];
  }

  /** Partition → URL of its owner, as last read from the group. */
  owners(): ReadonlyMap<number, string> {
    return this.#owners;
  }

  /**
   * Whether this server serves: it is a member with a live session and has applied each
   * partition it owns up to where the log ended when it was assigned. A member that owns
   * no partition is ready (it redirects).
   */
  ready(): boolean {
    if (!this.#serving()) return false;
    for (const partition of this.#owned.keys()) if (!this.#caughtUp(partition)) return false;
    return true;
  }

  /**
   * The gate of every call: returns when this server serves `tenant`, else throws the
   * Connect error to answer (tenant-owner-error.ts).
   */
  check(tenant: string): void {
    const partition = this.#wal.partitionFor(tenant);
    if (this.#serving() && this.#owned.has(partition)) {
      if (this.#caughtUp(partition)) return;
      throw ownedByNoOne(
        tenant,
        `this server was just given its partition ${partition} and is applying the log up to its end`,
        RETRY_AFTER_MS,
      );
    }
    const owner = this.#owners.get(partition);
    if (owner !== undefined && owner !== this.url) throw ownedElsewhere(tenant, partition, owner);
    this.#describeSoon();
    throw ownedByNoOne(
      tenant,
      `no server of the cluster owns its partition ${partition} (the cluster is assigning partitions)`,
      RETRY_AFTER_MS,
    );
  }

  /**
   * Calls `listener` whenever what this server serves may have shrunk (see the top of the
   * file); it runs after the change, so {@link check} answers as a new call would.
   */
  onShrink(listener: () => void): void {
    this.#shrinkListeners.push(listener);
  }

  /** Stops reading the group (the applier's subscription leaves it when stopped). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#catchUpTimer);
    this.#catchUpTimer = undefined;
    clearTimeout(this.#leaseTimer);
    this.#leaseTimer = undefined;
  }

  #shrank(): void {
    for (const listener of this.#shrinkListeners) {
      try {
        listener();
      } catch (err) {
        this.#log.warn("cluster: a listener of lost partitions failed", { err });
      }
    }
  }

  /** Tells the listeners when the lease runs out without a heartbeat renewing it. */
  #watchLease(): void {
    if (this.#leaseTimer !== undefined || this.#closed) return;
    const left = this.#leaseUntil - performance.now();
    this.#leaseTimer = setTimeout(
      () => {
        this.#leaseTimer = undefined;
        if (this.#closed) return;
        if (performance.now() < this.#leaseUntil) this.#watchLease();
        else if (this.#assigned) {
          this.#log.warn("cluster: no heartbeat answered for half a session; serving stops", {
            group: this.group,
          });
          this.#shrank();
        }
      },
      Math.max(0, Math.ceil(left)),
    );
    this.#leaseTimer.unref();
  }

  #serving(): boolean {
    return this.#assigned && performance.now() < this.#leaseUntil;
  }

  #caughtUp(partition: number): boolean {
    const owned = this.#owned.get(partition);
    if (owned === undefined) return false;
    if (owned.caughtUp) return true;
    if (owned.target === undefined) {
      this.#readTarget(partition, owned);
      return false;
    }
    if (this.#processed(partition) < owned.target) return false;
    owned.caughtUp = true;
    this.#log.info("cluster: partition caught up; serving its tenants", {
      partition,
      offset: owned.target,
      ms: Math.round(performance.now() - this.#assignedAt),
    });
    return true;
  }

  /**
   * Tells the serving threads a caught-up partition is served, once no tenant of it is
   * held by a rebuild (which they cannot see); whether it is shared now.
   */
  #share(partition: number): boolean {
    const owned = this.#owned.get(partition);
    if (owned === undefined || !owned.caughtUp || !this.#assigned) return false;
    if (owned.shared) return true;
    if (this.#rebuilding(partition)) return false;
    owned.shared = true;
    this.shared.serve(partition);
    return true;
  }

  #renew(): void {
    // Renewed from when the answer arrived; the coordinator's clock started earlier, so
    // half a session is the margin for the request's trip and the clocks' rates.
    this.#leaseUntil = performance.now() + this.sessionTimeoutMs / 2;
    this.shared.renew(this.sessionTimeoutMs / 2);
    this.#watchLease();
  }

  #onAssigned(partitions: readonly number[], memberId: string): void {
    this.#generation++;
    this.#owned.clear();
    this.shared.clear();
    for (const p of partitions)
      this.#owned.set(p, { target: undefined, caughtUp: false, shared: false });
    this.#assigned = true;
    this.#assignedAt = performance.now();
    this.#renew();
    this.#log.info("cluster: partitions assigned", {
      group: this.group,
      memberId,
      partitions: [...partitions].sort((a, b) => a - b),
    });
    for (const [p, owned] of this.#owned) this.#readTarget(p, owned);
    this.#lastDescribe = 0;
    this.#describeSoon();
    this.#watchCatchUp();
    this.#shrank();
  }

  /**
   * Looks at the partitions being caught up until each is, so the log says when, and
   * shares each with the serving threads once it may be.
   */
  #watchCatchUp(): void {
    if (this.#catchUpTimer !== undefined || this.#closed) return;
    this.#catchUpTimer = setInterval(() => {
      let pending = false;
      // Until the next assignment (which watches again) when a rebalance began.
      if (this.#assigned)
        for (const partition of this.#owned.keys())
          if (!this.#caughtUp(partition) || !this.#share(partition)) pending = true;
      if (!pending || this.#closed) {
        clearInterval(this.#catchUpTimer);
        this.#catchUpTimer = undefined;
      }
    }, CATCH_UP_POLL_MS);
    this.#catchUpTimer.unref();
  }

  #onUnassigned(): void {
    this.#assigned = false;
    this.shared.clear();
    this.#generation++;
    this.#owners = new Map();
    this.#shrank();
  }

  #readTarget(partition: number, owned: Owned): void {
    const generation = this.#generation;
    this.#wal.endOffset(partition).then(
      (end) => {
        if (generation === this.#generation && owned.target === undefined) owned.target = end;
      },
      (err: unknown) =>
        this.#log.warn("cluster: could not read the end of a partition it was given", {
          partition,
          err,
        }),
    );
  }

  /** Reads the group's members (rate-limited; one read at a time). */
  #describeSoon(): void {
    if (this.#closed || this.#describing !== undefined) return;
    if (performance.now() - this.#lastDescribe < DESCRIBE_EVERY_MS) return;
    this.#lastDescribe = performance.now();
    const generation = this.#generation;
    this.#describing = this.#describe(generation).finally(() => {
      this.#describing = undefined;
    });
  }

  async #describe(generation: number): Promise<void> {
    try {
      const group = await this.#wal.describeGroup(this.group);
      if (group === undefined || group.state !== "Stable" || generation !== this.#generation)
        return;
      const owners = new Map<number, string>();
      for (const m of group.members) {
        const url = memberUrl(m.memberMetadata);
        for (const p of assignedPartitions(m.memberAssignment, this.#wal.topic)) owners.set(p, url);
      }
      this.#owners = owners;
    } catch (err) {
      this.#log.warn("cluster: could not read the group's members", { group: this.group, err });
    }
  }
}
