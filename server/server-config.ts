/**
 * The server's configuration: flags override environment variables, which override
 * defaults. Checked once at start so a bad setting fails before anything opens.
 */

import { isIP } from "node:net";
import { parseCallerPrincipal } from "./acl/principal.ts";
import { type AuthConfig, isDevMode, resolveJwtConfig } from "./api/auth-config.ts";
import { checkDuplicates, parseTokenList, readTokensFile } from "./api/token-file.ts";
import {
  checkArchiveApart,
  checkS3Endpoint,
  endpointWithDir,
  parseArchiveUrl,
} from "./archive/archive-location.ts";
import { checkArchiveDir } from "./archive/dir-archive-check.ts";
import { ConfigError } from "./config-error.ts";
import { awsKinesisEnv, type KinesisWalConfig, resolveKinesisConfig } from "./kinesis-config.ts";
import { type LogLevel, parseLogLevel } from "./log.ts";

/** Which log backs the server. */
export type WalConfig =
  | { readonly kind: "embedded" }
  | {
      readonly kind: "kafka";
      readonly brokers: readonly string[];
      readonly topic: string;
      readonly partitions: number;
      readonly replicationFactor: number;
    }
  | KinesisWalConfig;

/** Everything `entdb serve` needs. */
export interface ServerConfig {
  readonly schemaPath: string;
  readonly dataDir: string;
  readonly host: string;
  /** Connect / gRPC / gRPC-Web port (0 picks a free one). */
  readonly port: number;
  /** /health, /ready, /metrics port (0 picks a free one). */
  readonly httpPort: number;
  readonly logLevel: LogLevel;
  /** Static tokens and JWT settings. None of either: dev mode (loopback only). */
  readonly auth: AuthConfig;
  readonly corsOrigins: readonly string[];
  readonly wal: WalConfig;
  /**
   * Largest open tenant database count before the least recently used is closed.
   * Each open database costs about 0.8 MB (its schema, statements and page cache), so
   * the default 64 keeps a server with many tenants near 250 MB; raise it when more
   * tenants are busy at once than that.
   */
  readonly maxOpenTenants: number;
  /** Server-wide administrators (`--admins`): create tenants and manage members. */
  readonly admins: ReadonlySet<string>;
  /** `--public-reads`: reads without a token see the nodes of `public` types. */
  readonly publicReads?: boolean;
  /**
   * `--archive s3://bucket/prefix` or a directory (and `--s3-endpoint`, `--snapshot-*`):
   * docs/archive.md. `url` is normalized: a directory's absolute path.
   */
  readonly archive?: {
    readonly url: string;
    readonly endpoint?: string;
    /** `--archive-lock-days`: segments are locked (S3 object lock, compliance mode) this long. */
    readonly lockDays?: number;
    /** Seconds between snapshot rounds (0: none), snapshots kept per tenant, their longest age (s). */
    readonly snapshots: {
      readonly intervalSeconds: number;
      readonly keep: number;
      readonly maxAgeSeconds: number;
    };
  };
  /** Events a live subscription may hold unsent before it is cut off (`ENTDB_SUBSCRIBER_BUFFER`). */
  readonly subscriberBuffer?: number;
  /** Milliseconds of quiet after which a live subscription is sent a checkpoint (`ENTDB_SUBSCRIBER_HEARTBEAT_MS`). */
  readonly subscriberHeartbeatMs?: number;
  /**
   * `--serve-threads N`: threads that serve reads beside the main thread, on the same
   * port (server/threads; docs/architecture.md). 0 or absent: the main thread serves all.
   */
  readonly serveThreads?: number;
  /**
   * `--cluster GROUP --advertise URL`: one of several servers on a Kafka log sharing the
   * consumer group GROUP; it owns the tenants of the partitions Kafka assigns it and
   * redirects the others (server/cluster; docs/kafka.md "Several servers").
   */
  readonly cluster?: {
    readonly group: string;
    readonly advertise: string;
    readonly sessionTimeoutMs: number;
  };
}

export { ConfigError };

/** Raw inputs, as strings from flags and the environment. */
export interface ConfigInput {
  readonly schema?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly httpPort?: string | undefined;
  readonly logLevel?: string | undefined;
  /** "token=principal,token2=principal2". */
  readonly tokens?: string | undefined;
  /** A file of "SHA256HEX PRINCIPAL" lines. */
  readonly tokensFile?: string | undefined;
  readonly jwtIssuer?: string | undefined;
  readonly jwtAudience?: string | undefined;
  readonly jwtJwksFile?: string | undefined;
  readonly jwtSecretFile?: string | undefined;
  readonly jwtGroupsClaim?: string | undefined;
  readonly corsOrigins?: string | undefined;
  readonly wal?: string | undefined;
  readonly kafkaBrokers?: string | undefined;
  readonly kafkaTopic?: string | undefined;
  readonly kafkaPartitions?: string | undefined;
  readonly kafkaReplication?: string | undefined;
  readonly kinesisStream?: string | undefined;
  readonly kinesisShards?: string | undefined;
  readonly kinesisAppendTimeoutMs?: string | undefined;
  readonly awsRegion?: string | undefined;
  readonly awsKinesisEndpoint?: string | undefined;
  readonly maxOpenTenants?: string | undefined;
  /** "user:alice,service:ops". */
  readonly admins?: string | undefined;
  /** "true" or "false". */
  readonly publicReads?: string | undefined;
  /** "s3://bucket/prefix". */
  readonly archive?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  readonly snapshotInterval?: string | undefined;
  readonly snapshotKeep?: string | undefined;
  readonly snapshotMaxAge?: string | undefined;
  readonly archiveLockDays?: string | undefined;
  readonly subscriberBuffer?: string | undefined;
  readonly subscriberHeartbeatMs?: string | undefined;
  readonly serveThreads?: string | undefined;
  readonly cluster?: string | undefined;
  readonly advertise?: string | undefined;
  readonly clusterSessionTimeoutMs?: string | undefined;
}

/** Reads `ENTDB_*` variables into a ConfigInput. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  return {
    schema: env["ENTDB_SCHEMA"],
    dataDir: env["ENTDB_DATA_DIR"],
    host: env["ENTDB_HOST"],
    port: env["ENTDB_GRPC_PORT"],
    httpPort: env["ENTDB_HTTP_PORT"],
    logLevel: env["ENTDB_LOG_LEVEL"],
    tokens: env["ENTDB_TOKENS"],
    tokensFile: env["ENTDB_TOKENS_FILE"],
    jwtIssuer: env["ENTDB_JWT_ISSUER"],
    jwtAudience: env["ENTDB_JWT_AUDIENCE"],
    jwtJwksFile: env["ENTDB_JWT_JWKS_FILE"],
    jwtSecretFile: env["ENTDB_JWT_SECRET_FILE"],
    jwtGroupsClaim: env["ENTDB_JWT_GROUPS_CLAIM"],
    corsOrigins: env["ENTDB_CORS_ORIGINS"],
    wal: env["ENTDB_WAL"],
    kafkaBrokers: env["ENTDB_KAFKA_BROKERS"],
    kafkaTopic: env["ENTDB_KAFKA_TOPIC"],
    kafkaPartitions: env["ENTDB_KAFKA_PARTITIONS"],
    kafkaReplication: env["ENTDB_KAFKA_REPLICATION"],
    kinesisStream: env["ENTDB_KINESIS_STREAM"],
    kinesisShards: env["ENTDB_KINESIS_SHARDS"],
    kinesisAppendTimeoutMs: env["ENTDB_KINESIS_APPEND_TIMEOUT_MS"],
    awsRegion: awsKinesisEnv(env).region,
    awsKinesisEndpoint: awsKinesisEnv(env).endpoint,
    maxOpenTenants: env["ENTDB_MAX_OPEN_TENANTS"],
    admins: env["ENTDB_ADMINS"],
    publicReads: env["ENTDB_PUBLIC_READS"],
    archive: env["ENTDB_ARCHIVE"],
    s3Endpoint: env["ENTDB_S3_ENDPOINT"],
    snapshotInterval: env["ENTDB_SNAPSHOT_INTERVAL"],
    snapshotKeep: env["ENTDB_SNAPSHOT_KEEP"],
    snapshotMaxAge: env["ENTDB_SNAPSHOT_MAX_AGE"],
    archiveLockDays: env["ENTDB_ARCHIVE_LOCK_DAYS"],
    subscriberBuffer: env["ENTDB_SUBSCRIBER_BUFFER"],
    subscriberHeartbeatMs: env["ENTDB_SUBSCRIBER_HEARTBEAT_MS"],
    serveThreads: env["ENTDB_SERVE_THREADS"],
    cluster: env["ENTDB_CLUSTER"],
    advertise: env["ENTDB_ADVERTISE"],
    clusterSessionTimeoutMs: env["ENTDB_CLUSTER_SESSION_TIMEOUT_MS"],
  };
}

/** Merges inputs (later ones win) and validates them. */
export function resolveConfig(...inputs: ConfigInput[]): ServerConfig {
  const pick = <K extends keyof ConfigInput>(key: K): string | undefined => {
    let value: string | undefined;
    for (const input of inputs)
      if (input[key] !== undefined && input[key] !== "") value = input[key];
    return value;
  };
  const schemaPath = pick("schema");
  if (!schemaPath)
    throw new ConfigError("No schema given; pass --schema FILE or set ENTDB_SCHEMA.");
  const host = pick("host") ?? "127.0.0.1";
  if (host !== "localhost" && isIP(host) === 0)
    throw new ConfigError(`--host '${host}' is not an IP address.`);
  const auth = resolveAuth(pick);
  if (isDevMode(auth) && !isLoopback(host)) {
    throw new ConfigError(
      `No authentication is configured (dev mode), so the server only binds loopback; configure --tokens-file, --tokens or --jwt-* to bind ${host}.`,
    );
  }
  const brokers = pick("kafkaBrokers");
  const walKind = pick("wal") ?? (brokers ? "kafka" : "embedded");
  let wal: WalConfig;
  if (walKind === "embedded") wal = { kind: "embedded" };
  else if (walKind === "kafka") {
    if (!brokers)
      throw new ConfigError(
        "--wal kafka needs brokers: set ENTDB_KAFKA_BROKERS=host:port[,host:port].",
      );
    wal = {
      kind: "kafka",
      brokers: brokers
        .split(",")
        .map((b) => b.trim())
        .filter(Boolean),
      topic: pick("kafkaTopic") ?? "entdb-wal",
      partitions: int(pick("kafkaPartitions") ?? "8", "kafka partitions", 1, 10_000),
      replicationFactor: int(pick("kafkaReplication") ?? "1", "kafka replication", 1, 32),
    };
  } else if (walKind === "kinesis") {
    wal = resolveKinesisConfig({
      stream: pick("kinesisStream"),
      shards: pick("kinesisShards"),
      appendTimeoutMs: pick("kinesisAppendTimeoutMs"),
      region: pick("awsRegion"),
      endpoint: pick("awsKinesisEndpoint"),
    });
  } else throw new ConfigError(`Unknown --wal '${walKind}'; use embedded, kafka or kinesis.`);
  const serveThreads = int(pick("serveThreads") ?? "0", "--serve-threads", 0, 64);
  const cluster = resolveCluster(pick, wal);
  return {
    schemaPath,
    dataDir: pick("dataDir") ?? "./.entdb-data",
    host,
    port: int(pick("port") ?? "50051", "--port", 0, 65_535),
    httpPort: int(pick("httpPort") ?? "8080", "--http-port", 0, 65_535),
    logLevel: parseLogLevelOrConfigError(pick("logLevel") ?? "info"),
    auth,
    corsOrigins: (pick("corsOrigins") ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    wal,
    maxOpenTenants: int(pick("maxOpenTenants") ?? "64", "max open tenants", 1, 100_000),
    admins: parseAdmins(pick("admins") ?? ""),
    publicReads: parsePublicReads(pick("publicReads")),
    subscriberBuffer: int(
      pick("subscriberBuffer") ?? "10000",
      "ENTDB_SUBSCRIBER_BUFFER",
      1,
      1_000_000,
    ),
    subscriberHeartbeatMs: int(
      pick("subscriberHeartbeatMs") ?? "15000",
      "ENTDB_SUBSCRIBER_HEARTBEAT_MS",
      10,
      3_600_000,
    ),
    serveThreads,
    ...(cluster === undefined ? {} : { cluster }),
    ...resolveArchive(pick, pick("dataDir") ?? "./.entdb-data"),
  };
}

/**
 * `--cluster`, `--advertise` and `--cluster-session-timeout`: a cluster needs the Kafka
 * log (its consumer group is the membership) and a URL other servers can redirect to.
 */
function resolveCluster(
  pick: (key: keyof ConfigInput) => string | undefined,
  wal: WalConfig,
): ServerConfig["cluster"] {
  const group = pick("cluster");
  const advertise = pick("advertise");
  const session = pick("clusterSessionTimeoutMs");
  if (group === undefined) {
    if (advertise !== undefined || session !== undefined)
      throw new ConfigError(
        "--advertise and --cluster-session-timeout need --cluster GROUP (env ENTDB_CLUSTER).",
      );
    return undefined;
  }
  if (wal.kind !== "kafka")
    throw new ConfigError(
      `--cluster needs the Kafka log (its consumer group is the cluster); this server uses the ${wal.kind} log. Set ENTDB_KAFKA_BROKERS.`,
    );
  if (advertise === undefined)
    throw new ConfigError(
      "--cluster needs --advertise URL (env ENTDB_ADVERTISE): the base URL clients reach this server at, e.g. http://10.0.0.5:50051; other servers redirect calls there.",
    );
  const url = URL.canParse(advertise) ? new URL(advertise) : undefined;
  if (
    url === undefined ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.pathname !== "/" ||
    url.search !== ""
  )
    throw new ConfigError(
      `--advertise '${advertise}' must be an http:// or https:// base URL without a path, e.g. http://10.0.0.5:50051.`,
    );
  return {
    group,
    advertise: url.origin,
    sessionTimeoutMs: int(session ?? "10000", "--cluster-session-timeout", 1_000, 1_800_000),
  };
}

/**
 * `--archive` and `--s3-endpoint`, checked so a typo fails at start; a directory archive
 * is checked to be usable (`checkArchiveDir`) before anything is written.
 */
function resolveArchive(
  pick: (key: keyof ConfigInput) => string | undefined,
  dataDir: string,
): Pick<ServerConfig, "archive"> {
  const url = pick("archive");
  const endpoint = pick("s3Endpoint");
  if (url === undefined) {
    if (endpoint !== undefined)
      throw new ConfigError("--s3-endpoint is only used with --archive s3://BUCKET/PREFIX.");
    return {};
  }
  const checked = <T>(check: () => T, flag: string): T => {
    try {
      return check();
    } catch (err) {
      throw new ConfigError(`${flag}: ${(err as Error).message}`);
    }
  };
  const location = checked(() => parseArchiveUrl(url), "--archive");
  if (location.kind === "dir") {
    if (endpoint !== undefined) throw new ConfigError(endpointWithDir(location.root).message);
    if (pick("archiveLockDays") !== undefined)
      throw new ConfigError(
        `--archive-lock-days needs an s3:// archive in a bucket with object lock; a directory archive (${location.root}) has no object lock.`,
      );
    checked(() => checkArchiveApart(location, dataDir), "--archive");
    checked(() => checkArchiveDir(location), "--archive");
  }
  if (endpoint !== undefined) checked(() => checkS3Endpoint(endpoint), "--s3-endpoint");
  const snapshots = {
    intervalSeconds: int(pick("snapshotInterval") ?? "3600", "--snapshot-interval", 0, 31_536_000),
    keep: int(pick("snapshotKeep") ?? "24", "--snapshot-keep", 1, 100_000),
    maxAgeSeconds: int(pick("snapshotMaxAge") ?? "604800", "--snapshot-max-age", 1, 3_153_600_000),
  };
  const lock = pick("archiveLockDays");
  return {
    archive: {
      url: location.url,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(lock === undefined ? {} : { lockDays: int(lock, "--archive-lock-days", 1, 36_500) }),
      snapshots,
    },
  };
}

/** `--public-reads` / ENTDB_PUBLIC_READS: "true" or "false" (default false). */
function parsePublicReads(text: string | undefined): boolean {
  if (text === undefined || text === "false") return false;
  if (text === "true") return true;
  throw new ConfigError(`ENTDB_PUBLIC_READS is '${text}'; set it to true or false.`);
}

/** `--admins`: comma-separated user or service principals (acl/principal.ts). */
function parseAdmins(text: string): Set<string> {
  const admins = new Set<string>();
  for (const entry of text.split(",").map((p) => p.trim())) {
    if (entry === "") continue;
    try {
      admins.add(parseCallerPrincipal(entry).text);
    } catch (err) {
      throw new ConfigError(`--admins: ${(err as Error).message}`);
    }
  }
  return admins;
}

function parseLogLevelOrConfigError(text: string): LogLevel {
  try {
    return parseLogLevel(text);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function int(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max}, got '${text}'.`);
  }
  return n;
}

/** The static tokens (`--tokens`, `--tokens-file`) and the JWT settings. */
function resolveAuth(pick: (key: keyof ConfigInput) => string | undefined): AuthConfig {
  const file = pick("tokensFile");
  const tokens = [...parseTokenList(pick("tokens") ?? ""), ...(file ? readTokensFile(file) : [])];
  checkDuplicates(tokens);
  const jwt = resolveJwtConfig({
    issuer: pick("jwtIssuer"),
    audience: pick("jwtAudience"),
    jwksFile: pick("jwtJwksFile"),
    secretFile: pick("jwtSecretFile"),
    groupsClaim: pick("jwtGroupsClaim"),
  });
  return { tokens, jwt };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
