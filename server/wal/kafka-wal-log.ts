/**
 * kafkajs's log lines, mapped onto the WAL's log sink. kafkajs logs at `error` what it
 * goes on to retry itself: a protocol error Kafka marks retriable (a coordinator still
 * loading at every start), a refused connection while a broker is down (about twenty
 * lines a second). Those are `warn` here, and while they last at most one line per kind
 * every {@link REPEAT_WINDOW_MS}, the next one saying how many were left out
 * (`repeated`). Every other `error` line (a crash, a failure kafkajs gives up on) stays
 * `error`, each one logged.
 */

import { logLevel as kafkaLogLevel, type logCreator } from "kafkajs";
import type { KafkaWalLog, KafkaWalLogLevel } from "./kafka-wal-errors.ts";

/** How long a kind of retried error stays quiet after one of its lines. */
export const REPEAT_WINDOW_MS = 5_000;

const LEVELS: Readonly<Record<number, KafkaWalLogLevel>> = {
  [kafkaLogLevel.ERROR]: "error",
  [kafkaLogLevel.WARN]: "warn",
  [kafkaLogLevel.INFO]: "info",
  [kafkaLogLevel.DEBUG]: "debug",
};

/**
 * The messages of the Kafka protocol errors marked retriable (kafkajs answers them by
 * retrying); a `Response …` line carries one as its `error` field. Kafka's own texts,
 * fixed by the protocol, as kafkajs spells them.
 */
const RETRIABLE_PROTOCOL_ERRORS: ReadonlySet<string> = new Set([
  "This message has failed its CRC checksum, exceeds the valid size, or is otherwise corrupt",
  "This server does not host this topic-partition",
  "There is no leader for this topic-partition as we are in the middle of a leadership election",
  "This server is not the leader for that topic-partition",
  "The request timed out",
  "The replica is not available for the requested topic-partition",
  "The server disconnected before a response was received",
  "The coordinator is loading and hence can't process requests for this group",
  "The group coordinator is not available",
  "This is not the correct coordinator for this group",
  "Messages are rejected since there are fewer in-sync replicas than required",
  "Messages are written to the log, but to fewer in-sync replicas than required",
  "This is not the correct controller for this cluster",
  "The fetch session ID was not found",
  "The fetch session epoch is invalid",
  "The leader epoch in the request is older than the epoch on the broker",
  "The leader epoch in the request is newer than the epoch on the broker",
  "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing",
  "The preferred leader was not available",
  "Eligible topic partition leaders are not available",
  "There are unstable offsets that need to be cleared",
]);

/** The beginnings of the lines kafkajs logs for a connection it will retry. */
const RETRIED_CONNECTION_LINES = [
  "Connection error:",
  "Connection timeout",
  "Closed connection",
  "Failed to connect to seed broker, trying another broker from the list:",
  "Failed to connect to broker, reconnecting",
  "Failed to send messages:",
] as const;

/** Whether kafkajs logged `message` (with `fields`) for an error it retries itself. */
export function isRetriedError(
  message: string,
  fields: Readonly<Record<string, unknown>>,
): boolean {
  if (message.startsWith("Response ")) {
    const error = fields["error"];
    return typeof error === "string" && RETRIABLE_PROTOCOL_ERRORS.has(error);
  }
  return RETRIED_CONNECTION_LINES.some((start) => message.startsWith(start));
}

/**
 * A kafkajs `logCreator` that forwards to `log` (or drops everything without one).
 * `now` is the clock of the repeat window.
 */
export function kafkaLogCreator(
  log: KafkaWalLog | undefined,
  now: () => number = Date.now,
): logCreator {
  /** Per kind of retried error: when its last line went out, and how many since were not. */
  const quiet = new Map<string, { at: number; left: number }>();
  return () =>
    ({ namespace, level, log: content }) => {
      if (log === undefined) return;
      const { message, timestamp: _timestamp, ...fields } = content;
      const text = namespace === "" ? message : `[${namespace}] ${message}`;
      const mapped = LEVELS[level] ?? "debug";
      if (mapped !== "error" || !isRetriedError(message, fields)) {
        log({ level: mapped, message: text, fields });
        return;
      }
      const error = fields["error"];
      const kind = typeof error === "string" ? `${text} ${error}` : text;
      const t = now();
      const seen = quiet.get(kind);
      if (seen !== undefined && t - seen.at < REPEAT_WINDOW_MS) {
        seen.left += 1;
        return;
      }
      quiet.set(kind, { at: t, left: 0 });
      if (quiet.size > 256) quiet.delete(quiet.keys().next().value ?? kind);
      log({
        level: "warn",
        message: text,
        fields: seen === undefined || seen.left === 0 ? fields : { ...fields, repeated: seen.left },
      });
    };
}
