/**
 * What the main thread and its serving threads (`--serve-threads`) tell each other
 * through their message ports, and what a serving thread starts with.
 */

import type { CounterSnapshot, HistogramSnapshot } from "../api/lean-metrics.ts";
import type { ServerConfig } from "../server-config.ts";
import type { HandedAnswer, HandedCall, HandedCancel, HandedFailure } from "./handed-calls.ts";

/** A serving thread's `workerData`. */
export interface ServingThreadData {
  /** 1 to N; the main thread is 0. */
  readonly index: number;
  readonly config: ServerConfig;
  /** The ThreadState's memory (thread-state.ts). */
  readonly state: SharedArrayBuffer;
  /** The main thread's private socket (main-thread-link.ts). */
  readonly mainSocket: string;
  /** The log's partition count (`Wal.partitions`): a tenant's partition is computed from it. */
  readonly partitions: number;
  /**
   * A server of a cluster: the partitions it serves now (server/cluster/served-partitions.ts);
   * a read of a tenant of another partition goes to the main thread.
   */
  readonly cluster?: SharedArrayBuffer;
}

/** Main thread → serving thread. */
export type ToServingThread =
  /** A version was pushed: load the registered versions again. */
  | { readonly kind: "schema" }
  /** Report the calls served since the last report. */
  | { readonly kind: "metrics"; readonly id: number }
  /** Stop accepting, finish the calls in flight, close, then say `closed`. */
  | { readonly kind: "close" }
  /** Handed calls' answers (handed-calls.ts). */
  | { readonly kind: "handed"; readonly messages: readonly (HandedAnswer | HandedFailure)[] };

/** Serving thread → main thread. */
export type FromServingThread =
  | { readonly kind: "listening" }
  | {
      readonly kind: "metrics";
      readonly id: number;
      readonly requests: readonly CounterSnapshot[];
      readonly seconds: readonly HistogramSnapshot[];
    }
  | { readonly kind: "closed" }
  /** Calls handed to the main thread, and cancels (handed-calls.ts). */
  | { readonly kind: "handed"; readonly messages: readonly (HandedCall | HandedCancel)[] };
