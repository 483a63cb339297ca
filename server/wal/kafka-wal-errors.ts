/**
 * Translation between kafkajs and the WAL's vocabulary: kafkajs errors become
 * `WalError`s with a code the caller can act on, Kafka's 64-bit offsets (strings in
 * kafkajs) become exact numbers (kafkajs's log lines: kafka-wal-log.ts).
 */

import { logLevel as kafkaLogLevel } from "kafkajs";
import { WalError } from "./wal.ts";

/** Severity of a {@link KafkaWalLogEntry}. */
export type KafkaWalLogLevel = "error" | "warn" | "info" | "debug";

/** One diagnostic line from the Kafka client or the backend. */
export interface KafkaWalLogEntry {
  readonly level: KafkaWalLogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * Receives diagnostics: connection failures, retries, rebalances, foreign records. Only
 * for operators; every failure that matters to a caller also reaches it as a `WalError`.
 */
export type KafkaWalLog = (entry: KafkaWalLogEntry) => void;

/** Protocol errors that mean "this batch can never be written", not "try later". */
const TOO_LARGE = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"]);

/** A kafkajs error's chain, outermost first (retry wrappers keep the original in `cause`). */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && out.length < 8 && !out.includes(current)) {
    out.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return out;
}

/** The Kafka protocol error type (e.g. `NOT_ENOUGH_REPLICAS`) somewhere in the chain, if any. */
export function kafkaErrorType(error: unknown): string | undefined {
  for (const link of chain(error)) {
    if (typeof link === "object" && link !== null && "type" in link) {
      const { type } = link as { type: unknown };
      if (typeof type === "string") return type;
    }
  }
  return undefined;
}

/**
 * Whether kafkajs gave up on an error it marks retriable without retrying it (as its
 * admin does with NOT_LEADER_OR_FOLLOWER). Errors after kafkajs's own retries are not.
 */
export function isRetriable(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { retriable?: unknown }).retriable === true
  );
}

/**
 * Whether kafkajs would restart a consumer that crashed with `error` (its own rule): its
 * retries ran out, or the original cause is retriable (a broker that is down).
 */
export function isRestartable(error: unknown): boolean {
  const links = chain(error);
  return (
    (error instanceof Error && error.name === "KafkaJSNumberOfRetriesExceeded") ||
    isRetriable(links[links.length - 1])
  );
}

/** A one-line description naming the innermost cause, e.g. "Connection error: … (after 6 retries)". */
export function describeKafkaError(error: unknown): string {
  const links = chain(error);
  const root = links[links.length - 1];
  let rootMessage = root instanceof Error ? root.message : String(root);
  // kafkajs's aggregate errors (e.g. "Topic creation errors") say what failed only inside.
  const inner = root instanceof Error ? (root as { errors?: unknown }).errors : undefined;
  if (Array.isArray(inner) && inner.length > 0) {
    rootMessage += `: ${inner.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`;
  }
  const retries = links.find(
    (link): link is Error & { retryCount: number } =>
      link instanceof Error &&
      link.name === "KafkaJSNumberOfRetriesExceeded" &&
      typeof (link as { retryCount?: unknown }).retryCount === "number",
  );
  return retries === undefined
    ? rootMessage
    : `${rootMessage} (after ${retries.retryCount} retries)`;
}

/**
 * The `WalError` for a failed Kafka operation: `too-large` when the broker refused the
 * batch's size, `unavailable` otherwise (retries exhausted, broker or quorum down,
 * timeouts: the caller may try again later).
 */
export function toWalError(error: unknown, what: string): WalError {
  if (error instanceof WalError) return error;
  const type = kafkaErrorType(error);
  if (type !== undefined && TOO_LARGE.has(type)) {
    return new WalError(
      "too-large",
      `${what}: the broker refused the batch as too large (${type}); raise the topic's ` +
        `max.message.bytes or lower maxGroupBytes.`,
      { cause: error },
    );
  }
  return new WalError("unavailable", `${what}: ${describeKafkaError(error)}.`, { cause: error });
}

/**
 * Converts a Kafka offset (a decimal string or bigint in kafkajs) to a number, exactly.
 * Rejects with `corrupt` anything that is not an integer in [0, 2^53 - 1]: past that a
 * number would silently round, and two records would share a position.
 */
export function kafkaOffsetToNumber(value: string | bigint | undefined, what: string): number {
  let big: bigint;
  if (typeof value === "bigint") {
    big = value;
  } else if (typeof value === "string" && /^-?\d+$/.test(value)) {
    big = BigInt(value);
  } else {
    throw new WalError(
      "corrupt",
      `Kafka returned ${String(value)} as ${what}; expected an integer.`,
    );
  }
  if (big < 0n || big > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WalError(
      "corrupt",
      `Kafka returned ${big} as ${what}; offsets must lie in [0, ${Number.MAX_SAFE_INTEGER}].`,
    );
  }
  return Number(big);
}

/** The kafkajs log level that lets `level` and above through. */
export function toKafkaLogLevel(level: KafkaWalLogLevel | "nothing"): number {
  switch (level) {
    case "nothing":
      return kafkaLogLevel.NOTHING;
    case "error":
      return kafkaLogLevel.ERROR;
    case "warn":
      return kafkaLogLevel.WARN;
    case "info":
      return kafkaLogLevel.INFO;
    case "debug":
      return kafkaLogLevel.DEBUG;
  }
}
