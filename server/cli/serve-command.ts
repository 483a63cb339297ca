/**
 * `entdb serve`: runs the database. Flags override `ENTDB_*` variables. Exits
 * non-zero before listening when the schema does not compile, is a breaking change
 * from the one served last, the configuration is wrong or the data dir cannot be
 * written (read-only, permission denied, full disk); SIGTERM/SIGINT shut it
 * down gracefully.
 */

import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { TOKEN_RULE } from "../api/token-file.ts";
import { ArchiveError } from "../archive/archive-error.ts";
import { DataDirError } from "../data-dir.ts";
import { createLogger, type Logger } from "../log.ts";
import { logProcessWarnings } from "../process-warnings.ts";
import { SchemaRejectedError } from "../schema-registry.ts";
import type { RunningServer } from "../server.ts";
import { ConfigError, configFromEnv, resolveConfig, type ServerConfig } from "../server-config.ts";

/** The `serve` command. */
export function serveCommand(): Command {
  return new Command("serve")
    .description(
      "Run the database server: the WAL, the applier, per-tenant SQLite and the Connect/gRPC API.",
    )
    .option("--schema <file>", "schema file to serve (env ENTDB_SCHEMA; required)")
    .option(
      "--data-dir <dir>",
      "where the WAL, tenant databases and schema versions live (env ENTDB_DATA_DIR; default ./.entdb-data)",
      undefined,
    )
    .option("--host <ip>", "address to bind (env ENTDB_HOST; default 127.0.0.1)")
    .option(
      "--port <n>",
      "Connect/gRPC/gRPC-Web port, 0 for any free port (env ENTDB_GRPC_PORT; default 50051)",
    )
    .option("--http-port <n>", "/health, /ready, /metrics port (env ENTDB_HTTP_PORT; default 8080)")
    .option(
      "--tokens-file <file>",
      "bearer tokens as lines 'SHA256HEX PRINCIPAL' (sha256 of the token, lowercase hex; # comments) (env ENTDB_TOKENS_FILE)",
    )
    .option(
      "--tokens <list>",
      `bearer tokens as token=principal,... with no spaces, each token ${TOKEN_RULE}, each principal user:ID or service:ID; for tests, prefer --tokens-file (env ENTDB_TOKENS)`,
    )
    .option("--jwt-issuer <iss>", "accept JWTs whose 'iss' is this (env ENTDB_JWT_ISSUER)")
    .option("--jwt-audience <aud>", "accept JWTs whose 'aud' names this (env ENTDB_JWT_AUDIENCE)")
    .option(
      "--jwt-jwks-file <file>",
      "JWKS JSON file of public RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA) keys (env ENTDB_JWT_JWKS_FILE)",
    )
    .option(
      "--jwt-secret-file <file>",
      "file holding the HS256 secret, at least 32 bytes (env ENTDB_JWT_SECRET_FILE)",
    )
    .option(
      "--jwt-groups-claim <name>",
      "JWT claim listing the caller's group ids (env ENTDB_JWT_GROUPS_CLAIM)",
    )
    .option(
      "--admins <list>",
      "server-wide administrators as user:ID,service:ID,...: create tenants and manage members (env ENTDB_ADMINS)",
    )
    .option(
      "--public-reads",
      "let requests without a token read the nodes of public types (env ENTDB_PUBLIC_READS=true)",
    )
    .option(
      "--cors-origins <list>",
      "browser origins allowed to call, comma-separated or * (env ENTDB_CORS_ORIGINS)",
    )
    .addOption(
      new Option(
        "--wal <kind>",
        "write-ahead log backend (env ENTDB_WAL; default kafka if ENTDB_KAFKA_BROKERS is set, else embedded)",
      ).choices(["embedded", "kafka", "kinesis"]),
    )
    .option(
      "--archive <archive>",
      "ship the log as it is written to s3://BUCKET/PREFIX, or to a directory (/mnt/backup/entdb or file:///mnt/backup/entdb, made if missing; a relative path is taken from the current directory) (env ENTDB_ARCHIVE; see docs/archive.md)",
    )
    .option(
      "--s3-endpoint <url>",
      "S3 endpoint for an s3:// --archive (env ENTDB_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)",
    )
    .option(
      "--archive-lock-days <n>",
      "with an s3:// --archive: lock each segment with S3 object lock (compliance mode) for n days; the bucket needs object lock (env ENTDB_ARCHIVE_LOCK_DAYS)",
    )
    .option(
      "--snapshot-interval <seconds>",
      "with --archive: seconds between per-tenant snapshots, 0 for none (env ENTDB_SNAPSHOT_INTERVAL; default 3600)",
    )
    .option(
      "--snapshot-keep <n>",
      "with --archive: snapshots kept per tenant (env ENTDB_SNAPSHOT_KEEP; default 24)",
    )
    .option(
      "--snapshot-max-age <seconds>",
      "with --archive: delete snapshots older than this, but never a tenant's newest (env ENTDB_SNAPSHOT_MAX_AGE; default 604800)",
    )
    .option(
      "--serve-threads <n>",
      "threads that serve reads beside the main thread, on the same port (env ENTDB_SERVE_THREADS; default 0: the main thread serves everything; see docs/architecture.md)",
    )
    .option(
      "--cluster <group>",
      "with the Kafka log: join the servers of consumer group GROUP; this server owns the tenants of the partitions Kafka assigns it and redirects calls for the others (env ENTDB_CLUSTER; needs --advertise; see docs/kafka.md, Several servers)",
    )
    .option(
      "--advertise <url>",
      "with --cluster: the base URL clients reach this server's API at, e.g. http://10.0.0.5:50051; the other servers redirect to it (env ENTDB_ADVERTISE)",
    )
    .option(
      "--cluster-session-timeout <ms>",
      "with --cluster: how long the group waits for a silent server before its partitions go to the others (env ENTDB_CLUSTER_SESSION_TIMEOUT_MS; default 10000; at least the broker's group.min.session.timeout.ms, 6000 by default)",
    )
    .option("--log-level <level>", "debug, info, warn or error (env ENTDB_LOG_LEVEL; default info)")
    .addHelpText(
      "after",
      "\nAuthentication: without --tokens-file, --tokens or --jwt-* the server runs in dev mode (every caller is 'dev', loopback only). JWT 'sub' becomes user:SUB (a sub already written user:ID is taken as it is). Health checks need no token.\n\nKafka: set ENTDB_KAFKA_BROKERS (host:port,...), optionally ENTDB_KAFKA_TOPIC, ENTDB_KAFKA_PARTITIONS, ENTDB_KAFKA_REPLICATION.\n\nKinesis: --wal kinesis with ENTDB_KINESIS_STREAM and AWS_REGION; optionally ENTDB_KINESIS_SHARDS, AWS_ENDPOINT_URL_KINESIS (or AWS_ENDPOINT_URL); credentials from the AWS SDK's usual chain.",
    )
    .action(async (opts: Record<string, string | undefined>) => {
      process.exitCode = await runServe(opts);
    });
}

/** Starts the server and resolves with the exit code once it has shut down. */
export async function runServe(opts: Record<string, string | undefined>): Promise<number> {
  let log: Logger = createLogger("info");
  let server: RunningServer;
  let config: ServerConfig | undefined;
  // Loaded on use, so other entdb commands do not load the whole server at start.
  const { SchemaCompileError, startServer } = await import("../server.ts");
  try {
    config = resolveConfig(configFromEnv(process.env), {
      schema: opts["schema"],
      dataDir: opts["dataDir"],
      host: opts["host"],
      port: opts["port"],
      httpPort: opts["httpPort"],
      tokens: opts["tokens"],
      tokensFile: opts["tokensFile"],
      jwtIssuer: opts["jwtIssuer"],
      jwtAudience: opts["jwtAudience"],
      jwtJwksFile: opts["jwtJwksFile"],
      jwtSecretFile: opts["jwtSecretFile"],
      jwtGroupsClaim: opts["jwtGroupsClaim"],
      admins: opts["admins"],
      publicReads: opts["publicReads"] === undefined ? undefined : "true",
      corsOrigins: opts["corsOrigins"],
      wal: opts["wal"],
      logLevel: opts["logLevel"],
      archive: opts["archive"],
      s3Endpoint: opts["s3Endpoint"],
      snapshotInterval: opts["snapshotInterval"],
      snapshotKeep: opts["snapshotKeep"],
      snapshotMaxAge: opts["snapshotMaxAge"],
      archiveLockDays: opts["archiveLockDays"],
      serveThreads: opts["serveThreads"],
      cluster: opts["cluster"],
      advertise: opts["advertise"],
      clusterSessionTimeoutMs: opts["clusterSessionTimeout"],
    });
    log = createLogger(config.logLevel);
    logProcessWarnings(log);
    server = await startServer(config, log);
  } catch (err) {
    if (err instanceof SchemaCompileError) {
      process.stderr.write(err.message.endsWith("\n") ? err.message : `${err.message}\n`);
    } else if (err instanceof SchemaRejectedError && config !== undefined) {
      process.stderr.write(`error: ${err.message}\n`);
      process.stderr.write(await rejectionReport(err, config.schemaPath));
    } else if (config !== undefined && listenFailure(err, config) !== undefined) {
      process.stderr.write(`error: ${listenFailure(err, config)}\n`);
    } else if (
      err instanceof ConfigError ||
      err instanceof DataDirError ||
      err instanceof ArchiveError
    ) {
      process.stderr.write(`error: ${err.message}\n`);
    } else {
      log.error("could not start", { err });
    }
    return err instanceof ConfigError ? 2 : 1;
  }
  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      server.close().then(
        () => resolve(code),
        (err: unknown) => {
          log.error("shutdown failed", { err });
          resolve(code);
        },
      );
    };
    process.once("SIGTERM", () => {
      log.info("shutting down", { signal: "SIGTERM" });
      stop(0);
    });
    process.once("SIGINT", () => {
      log.info("shutting down", { signal: "SIGINT" });
      stop(0);
    });
    // Nothing acknowledged is lost: what the log holds is applied again at the next start.
    server.failed.then((err) => {
      log.error("the applier stopped: entdb serve exits rather than serve tenants behind the log", {
        err,
      });
      stop(1);
    });
  });
  log.info("stopped");
  exitIfStillOpen(log, code);
  return code;
}

/** How long a stopped server's process may take to end by itself before it is ended. */
const EXIT_GRACE_MS = 2_000;

/**
 * Ends the process if something a dependency left open keeps it alive after the server
 * stopped (kafkajs can keep a broker connection it reopened during an outage): everything
 * the server owns is closed and synced by then, so an operator's SIGTERM must end it. The
 * timer does not keep the process alive; a process that ends by itself never fires it.
 */
function exitIfStillOpen(log: Logger, code: number): void {
  setTimeout(() => {
    log.warn("the process did not end after the server stopped; ending it", {
      open: process.getActiveResourcesInfo().filter((r) => r !== "Timeout"),
    });
    process.exit(code);
  }, EXIT_GRACE_MS).unref();
}

/**
 * What to tell the operator when a port could not be bound (in use, a privileged port, an
 * address this machine does not have); undefined for any other error.
 */
function listenFailure(err: unknown, config: ServerConfig): string | undefined {
  const e = err as { syscall?: unknown; code?: unknown; port?: unknown; address?: unknown } | null;
  if (e?.syscall !== "listen") return undefined;
  const port = typeof e.port === "number" ? e.port : 0;
  const flag =
    port !== 0 && port === config.httpPort
      ? "--http-port (ENTDB_HTTP_PORT)"
      : port !== 0 && port === config.port
        ? "--port (ENTDB_GRPC_PORT)"
        : "--port or --http-port";
  const host = typeof e.address === "string" ? e.address : config.host;
  const where = port === 0 ? host : `${host}:${port}`;
  switch (e.code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: the port is already in use (another entdb serve, or another program). Stop it, or pass another ${flag}.`;
    case "EACCES":
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges). Pass another ${flag}.`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: ${host} is not an address of this machine. Pass another --host (ENTDB_HOST).`;
    default:
      return undefined;
  }
}

/**
 * The findings of a refused `--schema` as `entdb check` prints them (each at its
 * file:line:col, then the summary naming the version's lock file), and the check
 * command that gives the same report.
 */
async function rejectionReport(err: SchemaRejectedError, schemaPath: string): Promise<string> {
  const { displayPath, renderCheckReport } = await import("../../schema/cli/index.ts");
  const path = displayPath(schemaPath, process.cwd());
  const against = err.baseline ?? "the served version";
  const report = renderCheckReport(
    {
      findings: err.findings,
      allowed: new Set(),
      source: { path, text: await readFile(schemaPath, "utf8") },
      against,
    },
    "text",
  );
  const again =
    err.baseline === undefined
      ? ""
      : `(the same report: entdb check ${path} --against ${against})\n`;
  return report + again;
}
