/**
 * The write-ahead log: the interface every backend implements, the embedded SQLite-file,
 * Kafka and Kinesis backends, tenant → partition hashing, and helpers shared by backends and
 * their tests.
 * The contract suite (`wal-contract.ts`) imports vitest and is imported by test files
 * directly, not through this entry point.
 */

export type {
  EmbeddedWalOptions,
  EmbeddedWalStats,
} from "./embedded-wal.ts";
export {
  DEFAULT_MAX_GROUP_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  EmbeddedWal,
  openEmbeddedWal,
} from "./embedded-wal.ts";
export type {
  KafkaWalLog,
  KafkaWalLogEntry,
  KafkaWalLogLevel,
  KafkaWalOptions,
  KafkaWalRetry,
} from "./kafka-wal.ts";
export {
  DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
  DEFAULT_KAFKA_MAX_GROUP_BYTES,
  DEFAULT_KAFKA_MAX_RECORD_BYTES,
  DEFAULT_KAFKA_TOPIC,
  KafkaWal,
  kafkaOffsetToNumber,
  openKafkaWal,
} from "./kafka-wal.ts";
export type { KinesisWalLogEntry, KinesisWalOptions } from "./kinesis-wal.ts";
export {
  DEFAULT_KINESIS_MAX_RECORD_BYTES,
  DEFAULT_KINESIS_STREAM,
  KinesisWal,
  openKinesisWal,
} from "./kinesis-wal.ts";
export { murmur2, partitionForTenant } from "./partition.ts";
export { readWalToEnd } from "./read-wal.ts";
export { DEFAULT_PARTITIONS } from "./sqlite-wal-file.ts";
export type {
  SubscribeOptions,
  Wal,
  WalEntry,
  WalErrorCode,
  WalHandler,
  WalPosition,
  WalRecord,
  WalSubscription,
} from "./wal.ts";
export { WalError, withSubscribe } from "./wal.ts";
export type { WalWriterPlacement } from "./wal-writer.ts";
