/**
 * Composes a running server: compile the schema, open the WAL, check the data dir
 * against it (`store/derived-check.ts`), register the schema, start the applier, then
 * serve the API and the ops endpoints. `close` undoes it in reverse: stop accepting,
 * let requests in flight finish, stop the applier, close the log and the store.
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { EntDbService, file_entdb_v1_entdb } from "../generated/entdb/v1/entdb_pb.js";
import { type WalEvent, WalEventSchema } from "../generated/entdb/v1/wal_pb.js";
import { file_grpc_health_v1_health, Health } from "../generated/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
} from "../generated/grpc/reflection/v1/reflection_pb.js";
import { compileSchema, errorReason, renderDiagnostics } from "../schema/index.ts";
import { AccessCache } from "./acl/access-cache.ts";
import type { ReadScope } from "./acl/read-scope.ts";
import { isDevMode } from "./api/auth-config.ts";
import { createAuthenticator } from "./api/authenticator.ts";
import {
  ChangeFeed,
  DEFAULT_SUBSCRIBER_BUFFER,
  DEFAULT_SUBSCRIBER_BYTES,
  DEFAULT_SUBSCRIBER_HEARTBEAT_MS,
} from "./api/change-feed.ts";
import { createEntDbService, DEFAULT_API_LIMITS } from "./api/entdb-service.ts";
import { createPlanHandlers } from "./api/execute-plan.ts";
import { createHealthService } from "./api/health-service.ts";
import { BuiltEventRegistry } from "./api/ingress/built-events.ts";
import { type ApiListener, listenApi } from "./api/listen.ts";
import { createServerMetrics, type ServerMetrics } from "./api/metrics.ts";
import {
  type DegradedSource,
  degradedReasons,
  type OpsServer,
  startOpsServer,
} from "./api/ops-server.ts";
import { createReflectionService } from "./api/reflection-service.ts";
import { createApiHandler, route, type ServiceRoute } from "./api/routes.ts";
import {
  createSchemaPushHandlers,
  createSerialQueue,
  forgetVersion,
} from "./api/schema-push-service.ts";
import { createSchemaSkewInterceptor } from "./api/schema-skew.ts";
import { createTenantGuard } from "./api/tenant-guard.ts";
import { createTypedServices } from "./api/typed-services.ts";
import {
  Applier,
  DEFAULT_PARK_RETRY,
  restoreLostSchemaFiles,
  SCHEMA_LOG_KEY,
} from "./apply/index.ts";
// The module, not the folder's index: that one loads kafkajs, which only a cluster needs.
import {
  ClusterSchemaLog,
  type LoggedSchemaChange,
  loggedChange,
  SchemaRaceLostError,
} from "./cluster/cluster-schema-log.ts";
import type { ClusterMembership } from "./cluster/index.ts";
import { checkDataDir, checkEmbeddedLogPresent, lockDataDir } from "./data-dir.ts";
import type { ServedSchema } from "./engine.ts";
import { openServerKinesisWal } from "./kinesis-config.ts";
import type { Logger } from "./log.ts";
import { type Registration, registerLogged, registerSchema } from "./schema-registry.ts";
import { type SchemaSurface, schemaSurface } from "./schema-surface.ts";
import { ConfigError, type ServerConfig } from "./server-config.ts";
import {
  createTenantReader,
  EdgeCache,
  holdWhileFileExists,
  listTenantIds,
  NodeCache,
  openCheckedStore,
  QueryPageCache,
  READ_LIMITS,
  readTenantAccess,
  validateTenantId,
} from "./store/index.ts";
import { readsDeletedNode, tombstonesPrunedBefore, wasInMailbox } from "./store/node-tombstones.ts";
import { readsEveryNodeOf } from "./store/type-visibility.ts";
import { type ServeThreads, startServeThreads } from "./threads/index.ts";
import { openEmbeddedWal } from "./wal/embedded-wal.ts";
import type { SubscribeOptions, Wal, WalPosition, WalSubscription } from "./wal/wal.ts";

/** A schema that does not compile; the message holds the rendered diagnostics. */
export class SchemaCompileError extends Error {
  override readonly name = "SchemaCompileError";
  readonly code = "schema-invalid";
}

/**
 * The `--schema` file's text; a file that cannot be read is a ConfigError naming it and
 * why (as `entdb check` says it), before the data dir is touched.
 */
function readSchemaFile(path: string): string {
  try {
    return readFileSync(resolve(path), "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read the schema file '${path}' (--schema, ENTDB_SCHEMA): ${errorReason(err)}.`,
      { cause: err },
    );
  }
}

/** A running server. */
export interface RunningServer {
  readonly port: number;
  readonly httpPort: number;
  /** The version served now (a push changes it). */
  readonly served: ServedSchema;
  readonly wal: Wal;
  /**
   * Settles with the cause when the server cannot go on serving: its applier stopped (a
   * damaged log, a log it can no longer read). Whoever runs the server closes it then;
   * `entdb serve` exits with status 1.
   */
  readonly failed: Promise<Error>;
  /** Stops serving and releases everything. Idempotent. */
  close(): Promise<void>;
}

/** Starts a server from `config`. Throws SchemaCompileError, SchemaRejectedError, ConfigError, WalError… before listening. */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const text = readSchemaFile(config.schemaPath);
  const compiled = compileSchema({ path: config.schemaPath, text });
  if (!compiled.schema) {
    throw new SchemaCompileError(
      renderDiagnostics(compiled.diagnostics, { path: config.schemaPath, text }),
    );
  }
  const model = compiled.schema;

  checkDataDir(config.dataDir);
  // Released last, once everything that writes the data dir is closed.
  const unlockDataDir = lockDataDir(config.dataDir);
  let wal: Wal;
  try {
    if (config.wal.kind === "embedded") checkEmbeddedLogPresent(config.dataDir, "wal.sqlite");
    wal = await openServerWal(config, log);
  } catch (error) {
    unlockDataDir();
    throw error;
  }
  const cleanup: (() => Promise<void> | void)[] = [() => wal.close(), unlockDataDir];
  try {
    // First, so a bucket that cannot be used fails the start before anything is logged.
    // Closed after the API (nothing more is committed) and before the log: flushes it all.
    const archive = config.archive
      ? await (await import("./archive/index.ts")).startServerArchive(config.archive, wal, log)
      : undefined;
    if (archive) cleanup.unshift(() => archive.close());
    // The data dir is derived from the log: check it (and set aside what cannot be served)
    // before anything reads it, schema version files included.
    let versions: ReadonlyMap<number, ServedSchema> = new Map();
    // `--serve-threads`: started once the API listens; told of commits before they are
    // acknowledged, and of tenants marked unavailable.
    let threads: ServeThreads | undefined;
    // Created once the store is open (below); told of tenant files lost while it runs.
    let applier: Applier | undefined;
    const hold = process.env.ENTDB_TEST_HOLD_REBUILD;
    const { store, metaRebuilt } = await openCheckedStore({
      dataDir: config.dataDir,
      schemas: (v) => versions.get(v),
      maxOpenTenants: config.maxOpenTenants,
      wal,
      logger: log,
      // A parked tenant, or one whose file cannot be used: its reads are this thread's.
      onUnavailable: (tenant: string) => threads?.held(tenant),
      // A file gone missing or older while the server runs: parked, and rebuilt by the retry.
      onLost: (tenant, error, applied) => applier?.parkLost(tenant, error, applied),
      onAvailable: (tenant) => threads?.released(tenant, store.unavailableTenants()),
      ...(hold ? { holdRebuild: holdWhileFileExists(hold) } : {}),
    });
    cleanup.unshift(() => store.close());
    const snapshots = archive?.startSnapshots(store, config.dataDir);
    if (snapshots) cleanup.unshift(() => snapshots.close());
    // A server of a cluster learns every version the log's home partition holds (pushed
    // through any server), so it registers and checks its --schema file against them.
    const schemaLog = config.cluster ? new ClusterSchemaLog(wal) : undefined;
    if (schemaLog) await registerLogged(config.dataDir, await schemaLog.read(), new Map());
    const restored = schemaLog
      ? []
      : await restoreLostSchemaFiles(
          config.dataDir,
          wal,
          metaRebuilt ? undefined : store.meta.schemas(),
        );
    if (restored.length > 0)
      log.warn("schema version files restored from the log", { versions: restored });
    const registeredAt = new Date();
    const registration = await registerSchema(config.dataDir, model, {
      info: { registeredAt: registeredAt.toISOString(), principal: "server", allowedRules: [] },
    });
    versions = registration.versions;
    const served = registration.current;
    for (const f of registration.findings)
      log.info("schema change", { rule: f.rule, category: f.category, message: f.message });
    if (registration.behind !== undefined)
      log.warn(
        "the --schema file is an older version than the latest registered one; serving the latest (update the file to the pushed schema)",
        { fileVersion: registration.behind, servedVersion: served.version },
      );

    if (registration.isNew) {
      const event = create(WalEventSchema, {
        tenant: SCHEMA_LOG_KEY,
        actor: "server",
        schemaVersion: served.version,
        ingressTime: timestampFromDate(registeredAt),
        body: {
          case: "schemaChange",
          value: {
            version: served.version,
            fingerprint: served.fingerprint,
            lockJson: served.lockJson,
          },
        },
      });
      if (schemaLog) {
        try {
          await schemaLog.log(event);
        } catch (err) {
          forgetVersion(config.dataDir, served.version);
          if (!(err instanceof SchemaRaceLostError)) throw err;
          throw new ConfigError(
            `${err.message} Start this server with the schema of version ${err.winner.version} (entdb schema history lists it), or push the change to the running cluster.`,
          );
        }
      } else
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
    const nodeCache = new NodeCache();
    const edgeCache = new EdgeCache();
    const queryPages = new QueryPageCache();
    const builtEvents = new BuiltEventRegistry();
    // `--cluster`: the applier is a member of the cluster's group and applies only the
    // partitions this server owns; every call's tenant is checked against them (checkTenant).
    const cluster = config.cluster
      ? await joinCluster(
          config.cluster,
          wal,
          (p) => applier?.processedOffset(p) ?? 0,
          (p) => store.rebuildingIn(p),
          log,
        )
      : undefined;
    if (cluster) cleanup.unshift(() => cluster.membership.close());
    // Pushes, and versions other servers of a cluster logged, register one at a time.
    const schemaQueue = createSerialQueue();
    let apiBuilt: () => void = () => {};
    const apiReady = new Promise<void>((resolve) => {
      apiBuilt = resolve;
    });
    /** Registers and serves versions of the log this server lacks (a cluster's). */
    const learnLogged = (changes: readonly LoggedSchemaChange[]) =>
      schemaQueue(async () => {
        await apiReady;
        const learned = await registerLogged(config.dataDir, changes, versions);
        if (learned) adopt(learned);
      });
    applier = new Applier({
      wal,
      store,
      builtEvents,
      ...(cluster
        ? {
            // A version pushed through another server reaches this one in each partition.
            onSchemaChange: (event: WalEvent) => {
              const change = loggedChange(event, 0);
              if (change && !versions.has(change.version))
                learnLogged([change]).catch((err: unknown) =>
                  log.error("a schema version of the log could not be registered", {
                    version: change.version,
                    err,
                  }),
                );
            },
            subscribe: cluster.subscribe,
            waitGate: (tenant: string) => cluster.membership.check(tenant),
          }
        : {}),
      onCommitted: (tenant, events) => {
        // Before the waiters of this commit resume (they resolve on a later microtask).
        threads?.committed(tenant);
        nodeCache.committed(tenant, events);
        edgeCache.committed(tenant, events);
        queryPages.committed(tenant, events);
        changeFeed.publish(tenant, events);
      },
      onAccessChanged: (tenant) => {
        access.invalidate(tenant);
        threads?.committed(tenant);
      },
      parkRetry: DEFAULT_PARK_RETRY,
      onPark: (p) => {
        const fields = {
          tenant: p.tenant,
          position: `${p.position.partition}:${p.position.offset}`,
          ...(p.retryAt !== undefined && { retryInMs: p.retryAt - Date.now() }),
          err: p.error.cause ?? p.error,
        };
        if (p.retries === 0) log.error("tenant parked: it stopped applying the log", fields);
        else log.warn("tenant still parked: a retry failed", { retries: p.retries, ...fields });
      },
      onUnpark: (p) => {
        // Serving threads read it again, from handles opened after this.
        threads?.released(p.tenant, store.unavailableTenants());
        log.warn("tenant applies the log again: a retry brought it up to date", {
          tenant: p.tenant,
          position: `${p.position.partition}:${p.position.offset}`,
          retries: p.retries,
        });
      },
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
    // A wait on a partition this server lost ends with the answer a new call gets.
    cluster?.membership.onShrink(() => {
      applier?.recheckWaits();
      changeFeed.recheckAll();
    });
    applier.start();
    cleanup.unshift(() => applier.stop());
    const retention = archive?.startRetention(store, (p) => applier.processedOffset(p));
    if (retention) cleanup.unshift(() => retention.close());
    // The applier stopping on its own (a damaged log, a subscription that cannot go on)
    // leaves nothing to apply writes or bring tenants up to date: the server must stop
    // serving rather than answer from tenants behind the log (`failed`, serve-command.ts).
    let applierFailure: Error | undefined;
    let onFailed: (err: Error) => void = () => {};
    const failed = new Promise<Error>((resolve) => {
      onFailed = resolve;
    });
    applier.done.catch((err: unknown) => {
      applierFailure = err instanceof Error ? err : new Error(String(err));
      onFailed(applierFailure);
    });

    const reader = createTenantReader(store, READ_LIMITS, nodeCache, edgeCache, queryPages);
    // Replaced when a version is pushed (adopt, below): the API serves `surface`.
    let surface: SchemaSurface = schemaSurface(served);

    let serving = false;
    // What makes /ready answer 503 and the gRPC health NOT_SERVING.
    const degraded: DegradedSource[] = [
      () =>
        applierFailure
          ? [`The applier stopped (${applierFailure.message}); entdb serve stops serving.`]
          : [],
      () => (wal.failure ? [wal.failure.message] : []),
      () => applier.parkedTenants().map((p) => p.error.message),
      () => {
        const failure = store.meta.checkpointFailure;
        return failure
          ? [
              `The applier's checkpoint cannot be written to ${store.meta.path} (${failure.message}): the applier keeps the last one written and tries again at its next checkpoint, so a restart meanwhile replays more of the log. Free space on the data dir's disk.`,
            ]
          : [];
      },
      () => archive?.archiver.degradedReasons() ?? [],
    ];
    metrics = createServerMetrics({
      applierLag: async () => {
        const lag = new Map<number, number>();
        // A server of a cluster applies only the partitions it owns.
        const partitions = cluster
          ? cluster.membership.ownedPartitions()
          : Array.from({ length: wal.partitions }, (_, p) => p);
        for (const p of partitions)
          lag.set(p, Math.max(0, (await wal.endOffset(p)) - applier.processedOffset(p)));
        return lag;
      },
      openTenantDbs: () => store.openCount,
      parkedTenants: () => applier.parkedTenants().length,
    });
    archive?.registerMetrics(metrics.registry);
    const deps = {
      served: () => surface.served,
      wal,
      reader,
      progress: applier,
      checkTenant: cluster
        ? (tenant: string) => {
            const id = validateTenantId(tenant);
            cluster.membership.check(id);
            return id;
          }
        : validateTenantId,
      get descriptorSet() {
        return surface.descriptorSet;
      },
      limits: DEFAULT_API_LIMITS,
      logError: (err: unknown) => log.error("internal error", { err }),
      startAppendTimer: () => metrics.walAppendSeconds.startTimer(),
      builtEvents,
      access,
      openAccess: isDevMode(config.auth),
      publicReads: config.publicReads === true,
      listTenantIds: () => listTenantIds(store.tenantsDir),
      subscriptions: {
        feed: changeFeed,
        bufferLimit: config.subscriberBuffer ?? DEFAULT_SUBSCRIBER_BUFFER,
        bufferBytes: DEFAULT_SUBSCRIBER_BYTES,
        heartbeatMs: config.subscriberHeartbeatMs ?? DEFAULT_SUBSCRIBER_HEARTBEAT_MS,
        readsEveryNodeOf: (tenant: string, typeId: number, scope: ReadScope) =>
          readsEveryNodeOf(store, tenant, typeId, scope),
        readsDeletedNode: (tenant: string, typeId: number, nodeId: string, scope: ReadScope) =>
          readsDeletedNode(store, tenant, typeId, nodeId, scope),
        wasInMailbox: (tenant: string, recipient: string, nodeId: string) =>
          wasInMailbox(store, tenant, recipient, nodeId),
        tombstonesPrunedBefore: (tenant: string) => tombstonesPrunedBefore(store, tenant),
        onHistoryRead: (records: number) => metrics.subscribeHistoryRecords.inc(records),
        onCutOff: (tenant: string, position: WalPosition | undefined) =>
          log.warn("subscription cut off: it fell behind the log", {
            tenant,
            position: position ? `${position.partition}:${position.offset}` : "none",
          }),
      },
    };
    const authenticator = createAuthenticator({
      config: config.auth,
      log: log.child({ component: "auth" }),
      isAdmin: (principal) => config.admins.has(principal),
    });
    // Aborted by close(), before the listener drains: calls in flight see their signal
    // aborted, on both request paths (routes.ts), and streams end instead of being cut.
    const shutdown = new AbortController();
    /** Serves a registered version (the typed services, reflection, GetSchema). */
    const adopt = (pushed: Registration) => {
      // An older version learned from the log after a newer one: registered, not served.
      if (pushed.current.version <= surface.served.version) {
        versions = pushed.versions;
        return;
      }
      // Built before anything is switched, so a failure leaves the old version served whole.
      const previous = surface;
      surface = schemaSurface(pushed.current);
      try {
        apiHandler = buildApiHandler();
      } catch (err) {
        surface = previous;
        throw err;
      }
      versions = pushed.versions;
      // Serving threads hand every call to this thread until they have loaded it.
      threads?.served(pushed.current.version);
      log.info("schema registered", {
        version: pushed.current.version,
        fingerprint: pushed.current.fingerprint,
      });
    };
    const schemaHandlers = createSchemaPushHandlers({
      served: () => surface.served,
      versions: () => versions,
      dataDir: config.dataDir,
      wal,
      openAccess: isDevMode(config.auth),
      adopt,
      serialized: schemaQueue,
      ...(schemaLog
        ? {
            cluster: {
              // Inside the queue already: learns without queueing again.
              sync: async () => {
                await schemaLog.read();
                const learned = await registerLogged(config.dataDir, schemaLog.logged(), versions);
                if (learned) adopt(learned);
              },
              log: (event: WalEvent) => schemaLog.log(event),
              copy: (event: WalEvent) => schemaLog.copy(event),
            },
          }
        : {}),
      logError: (err: unknown) => log.error("internal error", { err }),
    });
    /** Every route of the served version: the typed services and reflection follow it. */
    const buildRoutes = (): ServiceRoute[] => {
      const typed = createTypedServices(surface.files, deps);
      const serviceNames = [
        EntDbService.typeName,
        ...typed.map((t) => t.typeName),
        Health.typeName,
        ServerReflection.typeName,
      ];
      return [
        route(EntDbService, {
          ...createEntDbService(deps),
          ...schemaHandlers,
        }),
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
              ...surface.files,
              file_grpc_health_v1_health,
              file_grpc_reflection_v1_reflection,
            ],
            serviceNames,
          }),
        ),
      ];
    };
    const skew = createSchemaSkewInterceptor({
      served: () => surface.served,
      versions: () => versions,
    });
    const buildApiHandler = () =>
      createApiHandler({
        routes: buildRoutes(),
        interceptors: [skew],
        authenticator,
        metrics,
        corsOrigins: config.corsOrigins,
        readMaxBytes: 8 * 1024 * 1024,
        // A write whose commit the log's thread finished is answered before the next
        // call runs, not after every call this turn of the event loop brought.
        beforeCall: () => wal.takeCompletions?.(),
        shutdownSignal: shutdown.signal,
        logError: (err: unknown) => log.error("transport error", { err }),
        logClientGone: (err: unknown) => log.debug("client went away mid-request", { err }),
        anonymousReads: config.publicReads === true,
      });
    let apiHandler = buildApiHandler();
    apiBuilt();
    // Each request goes to the handler of the version served when it arrives.
    const serveThreads = config.serveThreads ?? 0;
    const api: ApiListener = await listenApi((req, res) => apiHandler.handler(req, res), {
      host: config.host,
      port: config.port,
      serveH2Stream: (stream, headers) => apiHandler.serveH2Stream(stream, headers),
      ...(serveThreads > 0 ? { reusePort: true, claimPort: true } : {}),
    });
    cleanup.unshift(() => api.close());
    if (serveThreads > 0) {
      const started = await startServeThreads({
        count: serveThreads,
        config: { ...config, port: api.port },
        partitions: wal.partitions,
        ...(cluster ? { cluster: cluster.membership.shared.buffer } : {}),
        servedVersion: surface.served.version,
        // A server of a cluster says per partition whether a rebuild holds its tenants
        // (`cluster`): the store's flag covers partitions it does not own too, whose holds
        // are lifted only if it is given them, so it may never clear.
        rebuilding: cluster ? () => false : () => store.rebuilding,
        handler: (req, res) => apiHandler.handler(req, res),
        serveH2Stream: (stream, headers) => apiHandler.serveH2Stream(stream, headers),
        method: (path) => apiHandler.methods.get(path),
        executePrepared: createPlanHandlers(deps, createTenantGuard(deps)).executePrepared,
        shutdownSignal: shutdown.signal,
        metrics,
        log,
      });
      threads = started;
      // After the calls in flight were told to stop and before this thread's API closes:
      // the threads' calls handed to this thread finish here.
      cleanup.unshift(() => started.close());
    }
    cleanup.unshift(() =>
      shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable)),
    );
    const ops: OpsServer = await startOpsServer({
      host: config.host,
      port: config.httpPort,
      metrics,
      ready: cluster ? async () => cluster.membership.ready() : () => applier.caughtUp(),
      degraded,
      ...(threads ? { beforeMetrics: () => threads?.pullMetrics() ?? Promise.resolve() } : {}),
      ...(archive
        ? {
            readyDetails: async () => {
              let waiting = 0;
              for (const n of (await archive.archiver.lag()).values()) waiting += n;
              return { archive_lag_records: waiting };
            },
          }
        : {}),
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
      archive: config.archive?.url,
      ...(serveThreads > 0 ? { serveThreads } : {}),
    });

    let closing: Promise<void> | undefined;
    return {
      port: api.port,
      httpPort: ops.port,
      get served() {
        return surface.served;
      },
      wal,
      failed,
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

/**
 * The membership of `--cluster` and the applier's subscription as a member of its group.
 * Loaded on use, as kafkajs is.
 */
async function joinCluster(
  options: NonNullable<ServerConfig["cluster"]>,
  wal: Wal,
  processedOffset: (partition: number) => number,
  rebuilding: (partition: number) => boolean,
  log: Logger,
): Promise<{
  readonly membership: ClusterMembership;
  readonly subscribe: (options: SubscribeOptions) => WalSubscription;
}> {
  const { KafkaWal } = await import("./wal/kafka-wal.ts");
  if (!(wal instanceof KafkaWal))
    throw new ConfigError("--cluster needs the Kafka log (its consumer group is the cluster).");
  const { ClusterMembership } = await import("./cluster/index.ts");
  const membership = new ClusterMembership(
    {
      group: options.group,
      advertise: options.advertise,
      sessionTimeoutMs: options.sessionTimeoutMs,
    },
    wal,
    processedOffset,
    log.child({ component: "cluster" }),
    rebuilding,
  );
  log.info("cluster: joining", {
    group: options.group,
    advertise: options.advertise,
    sessionTimeoutMs: options.sessionTimeoutMs,
  });
  return {
    membership,
    subscribe: (subscribeOptions) =>
      wal.subscribeInGroup(subscribeOptions, options.group, membership.member),
  };
}

/** Opens the log `config` names. kafkajs is loaded only for a Kafka log: it adds about 15 MB to every process. */
async function openServerWal(config: ServerConfig, log: Logger): Promise<Wal> {
  return config.wal.kind !== "kafka"
    ? config.wal.kind === "kinesis"
      ? await openServerKinesisWal(config.wal, log)
      : await openEmbeddedWal({ path: join(config.dataDir, "wal.sqlite"), writer: "thread" })
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
}
