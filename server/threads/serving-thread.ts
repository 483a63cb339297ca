/**
 * A serving thread of `entdb serve --serve-threads N`: listens on the API's host:port
 * beside the main thread (SO_REUSEPORT, so the kernel spreads connections over the
 * threads), answers the read RPCs on the unary fast paths itself (Connect binary and
 * gRPC: GetNode, GetNodes, GetNodeByKey, QueryNodes, ListEdges) with the same handlers,
 * authentication and interceptors as the main thread, reading its own read-only
 * connections to the tenant files; takes a unary ExecutePlan on the same paths, runs its
 * ingress and has the main thread log and apply the event over the message port
 * (main-thread-calls.ts, api/execute-plan.ts); and hands everything
 * else to the main thread (main-thread-link.ts). Started only by serve-threads.ts; not an
 * entry point of its own.
 *
 * A read is served here only when nothing says the main thread would answer it
 * differently (`serves` below); otherwise it goes to the main thread whole. On a server
 * of a cluster that includes a tenant of a partition the server does not serve now
 * (server/cluster/served-partitions.ts): the main thread answers it with the redirect.
 */

import { enableCompileCache } from "node:module";
import type { DescMessage, DescMethodUnary, Message, MessageShape } from "@bufbuild/protobuf";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import type { Actor } from "../api/auth.ts";
import type { ApiDeps } from "../api/entdb-service.ts";
import type { PreparedPlan } from "../api/execute-plan.ts";
import type { TenantAccessView } from "../api/tenant-guard.ts";
import type { FastMethod } from "../api/unary-call.ts";
import type { ServedSchema } from "../engine.ts";
import type { Wal, WalPosition } from "../wal/wal.ts";
import type { FromServingThread, ServingThreadData, ToServingThread } from "./thread-messages.ts";

// (The type imports above are erased: nothing loads before the cache is on.)
// As `entdb` on its main thread (bin/entdb.ts): a worker is a Node instance of its own
// and loading the server's modules is most of what starting one costs; on before they
// load, so they are imported below, not statically.
enableCompileCache();

const [
  { join },
  { parentPort, workerData },
  { Code, ConnectError },
  { EntDbService },
  { AccessCache },
  { createAuthenticator },
  { createEntDbService, DEFAULT_API_LIMITS },
  { prepareHandedPlan },
  { LeanCounter, LeanHistogram },
  { listenApi },
  { createApiHandler, route },
  { createSchemaSkewInterceptor },
  { InternalError },
  { createLogger },
  { loadVersions },
  store,
  { isApplied },
  { partitionForTenant },
  { MainThreadLink },
  { endOnFailure },
  { MainThreadCalls },
  { HANDED_METHODS },
  { ReadOnlyTenants },
  { ThreadState },
  { Registry },
  { ServedPartitions },
] = await Promise.all([
  import("node:path"),
  import("node:worker_threads"),
  import("@connectrpc/connect"),
  import("../../generated/entdb/v1/entdb_pb.js"),
  import("../acl/access-cache.ts"),
  import("../api/authenticator.ts"),
  import("../api/entdb-service.ts"),
  import("../api/execute-plan.ts"),
  import("../api/lean-metrics.ts"),
  import("../api/listen.ts"),
  import("../api/routes.ts"),
  import("../api/schema-skew.ts"),
  import("../internal-error.ts"),
  import("../log.ts"),
  import("../schema-registry.ts"),
  import("../store/index.ts"),
  import("../apply/apply-waiters.ts"),
  import("../wal/partition.ts"),
  import("./main-thread-link.ts"),
  import("./thread-failure.ts"),
  import("./main-thread-calls.ts"),
  import("./handed-calls.ts"),
  import("./read-only-tenants.ts"),
  import("./thread-state.ts"),
  import("prom-client"),
  import("../cluster/served-partitions.ts"),
]);

const port = parentPort;
if (port === null)
  throw new InternalError("invariant", "serving-thread.ts must run as a worker thread.");
const post = (message: FromServingThread): void => port.postMessage(message);
const data = workerData as ServingThreadData;
const { config } = data;
const log = createLogger(config.logLevel).child({ thread: data.index });
const state = new ThreadState(data.state);
/** A server of a cluster: the partitions it serves now; a read of another goes to the main thread. */
const cluster = data.cluster === undefined ? undefined : new ServedPartitions(data.cluster);

const schemasDir = join(config.dataDir, "schemas");
let versions: ReadonlyMap<number, ServedSchema> = loadVersions(schemasDir);
/** The version this thread serves; calls go to the main thread while it is not the main thread's. */
let served: ServedSchema | undefined = versions.get(state.servedVersion);
const reloadSchema = (): void => {
  if (served?.version === state.servedVersion) return;
  versions = loadVersions(schemasDir);
  served = versions.get(state.servedVersion);
};

const tenants = new ReadOnlyTenants({
  dataDir: config.dataDir,
  state,
  maxOpenTenants: config.maxOpenTenants,
  versions: () => versions,
});
const reader = store.createTenantReader(tenants, store.READ_LIMITS);

// Membership as of the last commit acknowledged: an entry is dropped when its tenant's
// commit counter moved (a grant or revoke is a commit like any other).
const accessCache = new AccessCache((tenant) => {
  const db = tenants.readTenant(tenant);
  return db ? store.readTenantAccess(db) : undefined;
});
const accessSeen = new Map<string, number>();
const access: TenantAccessView = {
  get(tenant) {
    const commits = state.commits(ThreadState.slot(tenant));
    if (accessSeen.get(tenant) !== commits) {
      accessCache.invalidate(tenant);
      if (accessSeen.size >= 4096) accessSeen.clear();
      accessSeen.set(tenant, commits);
    }
    return accessCache.get(tenant);
  },
};

/** What a serving thread never does: it serves no call that would need these. */
const mainThreadOnly = (what: string) =>
  new InternalError("invariant", `a serving thread does not ${what}; the main thread does`);
// What the read handlers ask of the log: which partition a tenant's events are in (to
// check an `after_position`), computed as every backend computes it.
const wal: Wal = {
  identity: "",
  partitions: data.partitions,
  failure: undefined,
  partitionFor: (tenant) => partitionForTenant(tenant, data.partitions),
  append: () => Promise.reject(mainThreadOnly("append to the log")),
  endOffset: () => Promise.reject(mainThreadOnly("read the log")),
  subscribe: () => {
    throw mainThreadOnly("subscribe to the log");
  },
  close: () => Promise.resolve(),
};
/** Whether the tenant's file has applied the event at `position`, as of the last commit acknowledged. */
const appliedHere = (tenant: string, position: WalPosition): boolean => {
  const db = tenants.readTenant(tenant);
  return db !== undefined && isApplied(db.state, position);
};
const deps: ApiDeps = {
  served: () => {
    if (served === undefined) throw mainThreadOnly("serve a version it has not loaded");
    return served;
  },
  wal,
  reader,
  progress: {
    // Only reads whose position is applied already are served here (`serves`): the
    // handler's first check, without a wait, answers true. A wait is the main thread's.
    waitFor: (tenant, position, timeoutMs) =>
      appliedHere(tenant, position)
        ? Promise.resolve(true)
        : timeoutMs <= 0
          ? Promise.resolve(false)
          : Promise.reject(mainThreadOnly("wait for the applier")),
    caughtUp: () => Promise.resolve(true),
    recentOutcome: () => undefined,
  },
  checkTenant: store.validateTenantId,
  descriptorSet: new Uint8Array(0),
  limits: DEFAULT_API_LIMITS,
  logError: (err: unknown) => log.error("internal error", { err }),
  access,
  openAccess: config.auth.tokens.length === 0 && config.auth.jwt === undefined,
  publicReads: config.publicReads === true,
  listTenantIds: () => store.listTenantIds(tenants.tenantsDir),
};
const handlers = createEntDbService(deps);
const calls = new MainThreadCalls((messages) => post({ kind: "handed", messages }));
/** The main thread's implementation of `method`, handed over (main-thread-calls.ts). */
const handed = <I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  prepare?: (req: MessageShape<I>, actor: Actor) => PreparedPlan | undefined,
) => {
  const path = `/${method.parent.typeName}/${method.name}`;
  if (!HANDED_METHODS.has(path))
    throw new InternalError("invariant", `${path} is not a handed method (handed-calls.ts)`);
  return calls.implementation(path, method, prepare);
};
// The reads the benchmark rows and most apps make, served here: their requests name the
// tenant in `tenant` and may carry `after_position` (served here once the tenant applied
// it). A plan is authenticated and counted here, its ingress runs here against this
// thread's version (the served one: `serves`), and the main thread logs and applies its
// event, handed over without HTTP/2 (main-thread-calls.ts, execute-plan.ts).
const reads = route(EntDbService, {
  getNode: handlers.getNode,
  getNodes: handlers.getNodes,
  getNodeByKey: handlers.getNodeByKey,
  queryNodes: handlers.queryNodes,
  listEdges: handlers.listEdges,
  executePlan: handed(EntDbService.method.executePlan, (req, actor) =>
    prepareHandedPlan(req, actor, deps),
  ),
});

/** Whether this thread answers a parsed read as the main thread would, now. */
const serves = (target: FastMethod, input: Message): boolean => {
  if (served === undefined || served.version !== state.servedVersion) {
    queueMicrotask(reloadSchema);
    return false;
  }
  // A handed call runs on the main thread, which decides everything of the tenant's state.
  if (target.method === EntDbService.method.executePlan) return true;
  // A server of a cluster says per partition (below) whether a rebuild holds any of its
  // tenants; the flag is for every partition, and a partition it does not own is never
  // read there, so its holds would stay.
  if (cluster === undefined && state.rebuilding) return false;
  const req = input as Message & { tenant?: unknown; afterPosition?: LogPosition };
  if (typeof req.tenant !== "string") return false;
  let tenant: string;
  try {
    tenant = store.validateTenantId(req.tenant);
  } catch {
    return true; // the handler answers a bad id, as the main thread's does
  }
  // A tenant of a partition this server does not serve now (owned elsewhere, a rebalance,
  // a lease run out, a catch-up): the main thread answers, with the redirect or its data.
  if (cluster !== undefined && !cluster.serves(partitionForTenant(tenant, data.partitions)))
    return false;
  if (state.held(ThreadState.slot(tenant))) return false;
  try {
    const after = req.afterPosition;
    // A read after a position this tenant has not applied yet waits on the main thread.
    if (after !== undefined) {
      if (after.offset < 0n || after.offset > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      return appliedHere(tenant, { partition: after.partition, offset: Number(after.offset) });
    }
    // No file: the main thread says whether that is a tenant without data or one whose
    // file went missing while the server ran (Store.tenant refuses to serve that empty).
    if (tenants.readTenant(tenant) === undefined) return false;
  } catch {
    return false; // a file this thread cannot use: the main thread says why
  }
  return true;
};

const registry = new Registry();
const metrics = {
  requests: new LeanCounter(
    "entdb_requests_total",
    "RPCs handled, by method and Connect code ('ok' on success).",
    ["method", "code"] as const,
    registry,
  ),
  requestSeconds: new LeanHistogram(
    "entdb_request_duration_seconds",
    "RPC latency, by method.",
    ["method"] as const,
    [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registry,
  ),
};

const link = new MainThreadLink(data.mainSocket);
const shutdown = new AbortController();
const api = createApiHandler({
  routes: [reads],
  interceptors: [
    createSchemaSkewInterceptor({
      served: deps.served,
      versions: () => versions,
    }),
  ],
  authenticator: createAuthenticator({
    config: config.auth,
    log: log.child({ component: "auth" }),
    isAdmin: (principal) => config.admins.has(principal),
  }),
  metrics,
  corsOrigins: config.corsOrigins,
  readMaxBytes: 8 * 1024 * 1024,
  shutdownSignal: shutdown.signal,
  logError: (err: unknown) => log.error("transport error", { err }),
  logClientGone: (err: unknown) => log.debug("client went away mid-request", { err }),
  forward: { serves, send: (stream, headers, body) => link.forward(stream, headers, body) },
  anonymousReads: config.publicReads === true,
});
const listener = await listenApi(api.handler, {
  host: config.host,
  port: config.port,
  reusePort: true,
  serveH2Stream: (stream, headers) => {
    if (!api.serveH2Stream(stream, headers)) link.forward(stream, headers);
    return true;
  },
  takeHttp1: (socket, head) => link.tunnel(socket, head),
});
// From here a failure ends this thread without taking the process with it
// (thread-failure.ts): the listener may hold connections as soon as it listens.
endOnFailure(() => {
  listener.destroy();
  link.destroy();
});

port.on("message", (message: ToServingThread) => {
  if (message.kind === "handed") for (const m of message.messages) calls.settle(m);
  else if (message.kind === "schema") reloadSchema();
  else if (message.kind === "metrics") {
    post({
      kind: "metrics",
      id: message.id,
      requests: metrics.requests.snapshot(),
      seconds: metrics.requestSeconds.snapshot(),
    });
    metrics.requests.reset();
    metrics.requestSeconds.reset();
  } else if (message.kind === "close") {
    shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
    void Promise.all([listener.close(), link.close()]).then(() => {
      tenants.close();
      post({ kind: "closed" });
      port.close();
    });
  }
});
// Test hook, never set in production: the thread fails (an uncaught exception, as a bug
// would) once this file exists, removing it first, so the thread started again in its
// place stays up; found while the thread starts, it fails before it is listening.
const stopFile = process.env["ENTDB_TEST_STOP_SERVING_THREAD"];
if (stopFile !== undefined) await failOnStopFile(stopFile);
post({ kind: "listening" });

async function failOnStopFile(path: string): Promise<void> {
  const { existsSync, rmSync } = await import("node:fs");
  const fail = (when: string) => {
    rmSync(path, { force: true });
    throw new Error(
      `the serving thread failed on purpose ${when} (ENTDB_TEST_STOP_SERVING_THREAD)`,
    );
  };
  if (existsSync(path)) {
    setImmediate(() => fail("while starting"));
    return new Promise<void>(() => {});
  }
  setInterval(() => {
    if (existsSync(path)) fail("while serving");
  }, 50).unref();
}
