/**
 * Composes a running server: compile the schema, open the WAL, check the data dir
 * against it (`store/derived-check.ts`), register the schema, start the applier, then
 * serve the API and the ops endpoints. `close` undoes it in reverse: stop accepting,
 * let requests in flight finish, stop the applier, close the log and the store.
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { create, createFileRegistry, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  timestampNow,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { buildFileDescriptor } from "../codegen/index.ts";
import { EntDbService, file_entdb_v1_entdb } from "../generated/entdb/v1/entdb_pb.js";
import { WalEventSchema } from "../generated/entdb/v1/wal_pb.js";
import { file_grpc_health_v1_health, Health } from "../generated/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
} from "../generated/grpc/reflection/v1/reflection_pb.js";
import { compileSchema, renderDiagnostics } from "../schema/index.ts";
import { AccessCache } from "./acl/access-cache.ts";
import type { ReadScope } from "./acl/read-scope.ts";
import { isDevMode } from "./api/auth-config.ts";
import { createAuthenticator } from "./api/authenticator.ts";
import {
  ChangeFeed,
  DEFAULT_SUBSCRIBER_BUFFER,
  DEFAULT_SUBSCRIBER_BYTES,
} from "./api/change-feed.ts";
import { createEntDbService, DEFAULT_API_LIMITS } from "./api/entdb-service.ts";
import { createHealthService } from "./api/health-service.ts";
import { type ApiListener, listenApi } from "./api/listen.ts";
import { createServerMetrics, type ServerMetrics } from "./api/metrics.ts";
import {
  type DegradedSource,
  degradedReasons,
  type OpsServer,
  startOpsServer,
} from "./api/ops-server.ts";
import { createReflectionService } from "./api/reflection-service.ts";
import { createApiHandler, route } from "./api/routes.ts";
import { createTypedServices } from "./api/typed-services.ts";
import { Applier, restoreLostSchemaFiles, SCHEMA_LOG_KEY } from "./apply/index.ts";
import { checkDataDir } from "./data-dir.ts";
import type { ServedSchema } from "./engine.ts";
import { InternalError } from "./internal-error.ts";
import type { Logger } from "./log.ts";
import { registerSchema } from "./schema-registry.ts";
import type { ServerConfig } from "./server-config.ts";
import {
  createTenantReader,
  holdWhileFileExists,
  listTenantIds,
  openCheckedStore,
  readTenantAccess,
  validateTenantId,
} from "./store/index.ts";
import { readsEveryNodeOf } from "./store/type-visibility.ts";
import { openEmbeddedWal } from "./wal/embedded-wal.ts";
import type { Wal, WalPosition } from "./wal/wal.ts";

/** A schema that does not compile; the message holds the rendered diagnostics. */
export class SchemaCompileError extends Error {
  override readonly name = "SchemaCompileError";
  readonly code = "schema-invalid";
}

/** A running server. */
export interface RunningServer {
  readonly port: number;
  readonly httpPort: number;
  readonly served: ServedSchema;
  readonly wal: Wal;
  /** Stops serving and releases everything. Idempotent. */
  close(): Promise<void>;
}

/** Starts a server from `config`. Throws SchemaCompileError, SchemaRejectedError, ConfigError, WalError… before listening. */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const schemaPath = resolve(config.schemaPath);
  const text = readFileSync(schemaPath, "utf8");
  const compiled = compileSchema({ path: config.schemaPath, text });
  if (!compiled.schema) {
    throw new SchemaCompileError(
      renderDiagnostics(compiled.diagnostics, { path: config.schemaPath, text }),
    );
  }
  const model = compiled.schema;

  checkDataDir(config.dataDir);
  // kafkajs is loaded only for a Kafka log: it adds about 15 MB to every process.
  const wal: Wal =
    config.wal.kind === "embedded"
      ? await openEmbeddedWal({ path: join(config.dataDir, "wal.sqlite"), writer: "thread" })
      : await (await import("./wal/kafka-wal.ts")).openKafkaWal({
          brokers: config.wal.brokers,
          topic: config.wal.topic,
          partitions: config.wal.partitions,
          replicationFactor: config.wal.replicationFactor,
          logLevel:
            config.logLevel === "debug" ? "debug" : config.logLevel === "error" ? "error" : "warn",
          log: (entry) => {
            const kafkaLog = log.child({ component: "kafka-wal" });
            if (entry.level === "error") kafkaLog.error(entry.message, entry.fields);
            else if (entry.level === "warn") kafkaLog.warn(entry.message, entry.fields);
            else if (entry.level === "info") kafkaLog.info(entry.message, entry.fields);
            else kafkaLog.debug(entry.message, entry.fields);
          },
        });
  const cleanup: (() => Promise<void> | void)[] = [() => wal.close()];
  try {
    // The data dir is derived from the log: check it (and set aside what cannot be served)
    // before anything reads it, schema version files included.
    let versions: ReadonlyMap<number, ServedSchema> = new Map();
    const hold = process.env.ENTDB_TEST_HOLD_REBUILD;
    const { store, metaRebuilt } = await openCheckedStore({
      dataDir: config.dataDir,
      schemas: (v) => versions.get(v),
      maxOpenTenants: config.maxOpenTenants,
      wal,
      logger: log,
      ...(hold ? { holdRebuild: holdWhileFileExists(hold) } : {}),
    });
    cleanup.unshift(() => store.close());
    const restored = await restoreLostSchemaFiles(
      config.dataDir,
      wal,
      metaRebuilt ? undefined : store.meta.schemas(),
    );
    if (restored.length > 0)
      log.warn("schema version files restored from the log", { versions: restored });
    const registration = await registerSchema(config.dataDir, model);
    versions = registration.versions;
    const served = registration.current;
    for (const f of registration.findings)
      log.info("schema change", { rule: f.rule, category: f.category, message: f.message });

    if (registration.isNew) {
      const event = create(WalEventSchema, {
        tenant: SCHEMA_LOG_KEY,
        actor: "server",
        schemaVersion: served.version,
        ingressTime: timestampNow(),
        body: {
          case: "schemaChange",
          value: {
            version: served.version,
            fingerprint: served.fingerprint,
            lockJson: served.lockJson,
          },
        },
      });
      await wal.append([{ tenant: SCHEMA_LOG_KEY, payload: toBinary(WalEventSchema, event) }]);
      log.info("schema registered", { version: served.version, fingerprint: served.fingerprint });
    }

    const access = new AccessCache((tenant) => {
      const db = store.tenant(tenant, false);
      return db ? readTenantAccess(db) : undefined;
    });
    // Created below, before the applier's first batch (the subscription delivers it later).
    let metrics: ServerMetrics | undefined;
    const changeFeed = new ChangeFeed(config.subscriberBuffer);
    const applier = new Applier({
      wal,
      store,
      onCommitted: (tenant, events) => changeFeed.publish(tenant, events),
      onAccessChanged: (tenant) => access.invalidate(tenant),
      onPark: (p) =>
        log.error("tenant parked: it stopped applying the log", {
          tenant: p.tenant,
          position: `${p.position.partition}:${p.position.offset}`,
          err: p.error.cause ?? p.error,
        }),
      onApplyFailure: (f) => {
        metrics?.applyFailures.inc();
        log.error("apply failed; recorded as the plan's outcome", {
          tenant: f.tenant,
          position: `${f.position.partition}:${f.position.offset}`,
          idempotencyKey: f.idempotencyKey,
          err: f.error,
        });
      },
    });
    applier.start();
    cleanup.unshift(() => applier.stop());
    applier.done.catch((err: unknown) => log.error("applier stopped", { err }));

    const reader = createTenantReader(store);
    const schemaFile = buildFileDescriptor(model);
    const registry = createFileRegistry(schemaFile, (name) => {
      if (name === "google/protobuf/timestamp.proto") return file_google_protobuf_timestamp;
      if (name === "google/protobuf/struct.proto") return file_google_protobuf_struct;
      return undefined;
    });
    const schemaDesc = registry.getFile(schemaFile.name);
    if (!schemaDesc)
      throw new InternalError(
        "descriptor",
        `descriptor of ${schemaFile.name} missing from its registry`,
      );
    const descriptorSet = toBinary(
      FileDescriptorSetSchema,
      create(FileDescriptorSetSchema, { file: [...registry.files].map((f) => f.proto) }),
    );

    let serving = false;
    // What makes /ready answer 503 and the gRPC health NOT_SERVING.
    const degraded: DegradedSource[] = [
      () => (wal.failure ? [wal.failure.message] : []),
      () => applier.parkedTenants().map((p) => p.error.message),
    ];
    metrics = createServerMetrics({
      applierLag: async () => {
        const lag = new Map<number, number>();
        for (let p = 0; p < wal.partitions; p++)
          lag.set(p, Math.max(0, (await wal.endOffset(p)) - applier.processedOffset(p)));
        return lag;
      },
      openTenantDbs: () => store.openCount,
      parkedTenants: () => applier.parkedTenants().length,
    });
    const deps = {
      served: () => served,
      wal,
      reader,
      progress: applier,
      checkTenant: validateTenantId,
      descriptorSet,
      limits: DEFAULT_API_LIMITS,
      logError: (err: unknown) => log.error("internal error", { err }),
      startAppendTimer: () => metrics.walAppendSeconds.startTimer(),
      access,
      openAccess: isDevMode(config.auth),
      publicReads: config.publicReads === true,
      listTenantIds: () => listTenantIds(store.tenantsDir),
      subscriptions: {
        feed: changeFeed,
        bufferLimit: config.subscriberBuffer ?? DEFAULT_SUBSCRIBER_BUFFER,
        bufferBytes: DEFAULT_SUBSCRIBER_BYTES,
        readsEveryNodeOf: (tenant: string, typeId: number, scope: ReadScope) =>
          readsEveryNodeOf(store, tenant, typeId, scope),
        onCutOff: (tenant: string, position: WalPosition | undefined) =>
          log.warn("subscription cut off: it fell behind the log", {
            tenant,
            position: position ? `${position.partition}:${position.offset}` : "none",
          }),
      },
    };
    const typed = createTypedServices(schemaDesc, deps);
    const serviceNames = [
      EntDbService.typeName,
      ...typed.map((t) => t.typeName),
      Health.typeName,
      ServerReflection.typeName,
    ];
    const authenticator = createAuthenticator({
      config: config.auth,
      log: log.child({ component: "auth" }),
      isAdmin: (principal) => config.admins.has(principal),
    });
    // Aborted by close(), before the listener drains: calls in flight see their signal
    // aborted, on both request paths (routes.ts), and streams end instead of being cut.
    const shutdown = new AbortController();
    const apiHandler = createApiHandler({
      routes: [
        route(EntDbService, createEntDbService(deps)),
        ...typed,
        route(
          Health,
          createHealthService({
            serviceNames,
            serving: () => serving && degradedReasons(degraded).length === 0,
          }),
        ),
        route(
          ServerReflection,
          createReflectionService({
            files: [
              file_entdb_v1_entdb,
              schemaDesc,
              file_grpc_health_v1_health,
              file_grpc_reflection_v1_reflection,
            ],
            serviceNames,
          }),
        ),
      ],
      authenticator,
      metrics,
      corsOrigins: config.corsOrigins,
      readMaxBytes: 8 * 1024 * 1024,
      shutdownSignal: shutdown.signal,
      logError: (err: unknown) => log.error("transport error", { err }),
    });
    const api: ApiListener = await listenApi(apiHandler.handler, {
      host: config.host,
      port: config.port,
      serveH2Stream: apiHandler.serveH2Stream,
    });
    cleanup.unshift(() => api.close());
    cleanup.unshift(() =>
      shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable)),
    );
    const ops: OpsServer = await startOpsServer({
      host: config.host,
      port: config.httpPort,
      metrics,
      ready: () => applier.caughtUp(),
      degraded,
    });
    cleanup.unshift(() => ops.close());
    serving = true;
    if (authenticator.devMode) {
      log.warn(
        "dev mode: no authentication configured; every caller is the actor 'dev' and only loopback is served",
        {
          host: config.host,
        },
      );
    } else {
      log.info("authentication", {
        staticTokens: config.auth.tokens.length,
        jwtIssuer: config.auth.jwt?.issuer,
        jwtAlgorithms: config.auth.jwt?.algorithms,
      });
    }
    log.info("serving", {
      api: `http://${config.host}:${api.port}`,
      ops: `http://${config.host}:${ops.port}`,
      schema: config.schemaPath,
      schemaVersion: served.version,
      wal: config.wal.kind,
      dataDir: config.dataDir,
    });

    let closing: Promise<void> | undefined;
    return {
      port: api.port,
      httpPort: ops.port,
      served,
      wal,
      close() {
        closing ??= (async () => {
          serving = false;
          for (const step of cleanup) await step();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const step of cleanup) await Promise.resolve(step()).catch(() => {});
    throw err;
  }
}
