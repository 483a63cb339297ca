/**
 * What the end-to-end tests share: the tracker ids they write with, value and plan
 * builders, API clients over each transport, the server a test file runs against, and
 * small call helpers. Kept apart from `server-process.ts` because it registers vitest
 * hooks and uses `expect`, which the benchmarks (plain Node) cannot load.
 */

import { execFile } from "node:child_process";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect } from "vitest";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { createBearerAuthInterceptor } from "../../runtime/v1.ts";
import {
  removeDataDir,
  type ServerProcess,
  type StartOptions,
  startServerProcess,
} from "./server-process.ts";

/** Type and field ids of `examples/tracker/schema.entdb` that the tests write with. */
export const TRACKER = {
  user: 1,
  team: 2,
  memberOf: 100,
  userEmail: 1,
  userDisplayName: 2,
  userHandle: 3,
  userJoinedAt: 6,
  teamName: 1,
  teamSlug: 2,
  teamDescription: 3,
  memberOfSince: 2,
} as const;

/** The Connect client of the EntDB API. */
export type EntDbClient = Client<typeof EntDbService>;

/** A string value of the API. */
export function str(value: string) {
  return { kind: { case: "stringValue" as const, value } };
}

/** The operation creating a Team with `name` and `slug`. */
export function teamOp(name: string, slug: string) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.team,
        fields: { [TRACKER.teamName]: str(name), [TRACKER.teamSlug]: str(slug) },
      },
    },
  };
}

/** The operation creating a User with `handle` (email `HANDLE@example.com`, joined 2023-11-14). */
export function userOp(handle: string, displayName: string) {
  return {
    op: {
      case: "createNode" as const,
      value: {
        typeId: TRACKER.user,
        fields: {
          [TRACKER.userEmail]: str(`${handle}@example.com`),
          [TRACKER.userDisplayName]: str(displayName),
          [TRACKER.userHandle]: str(handle),
          [TRACKER.userJoinedAt]: {
            kind: {
              case: "timestampValue" as const,
              value: { seconds: 1_700_000_000n, nanos: 0 },
            },
          },
        },
      },
    },
  };
}

/** A plan for `tenant` creating one Team whose name and slug are both `slug`. */
export function teamPlan(tenant: string, slug: string) {
  return { tenant, operations: [teamOp(slug, slug)] };
}

/** How an {@link entDbClient} talks to the server. */
export interface EntDbClientOptions {
  /** Connect (the default) or gRPC. */
  readonly protocol?: "connect" | "grpc";
  /** The HTTP version of the Connect protocol (default 1.1); gRPC always uses HTTP/2. */
  readonly httpVersion?: "1.1" | "2";
  /** Connect with the binary (protobuf) codec instead of JSON. */
  readonly binary?: boolean;
  /** A bearer token sent with every call; none when undefined. */
  readonly token?: string | undefined;
}

/** An API client of the server at `server.url`. */
export function entDbClient(
  server: { readonly url: string },
  options: EntDbClientOptions = {},
): EntDbClient {
  const interceptors =
    options.token === undefined ? [] : [createBearerAuthInterceptor(options.token)];
  const transport =
    options.protocol === "grpc"
      ? createGrpcTransport({ baseUrl: server.url, interceptors })
      : createConnectTransport({
          baseUrl: server.url,
          httpVersion: options.httpVersion ?? "1.1",
          useBinaryFormat: options.binary ?? false,
          interceptors,
        });
  return createClient(EntDbService, transport);
}

/** The ConnectError a call fails with; throws when the call succeeds. */
export async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/** How many nodes of `typeId` (a Team by default) the tenant holds (the server's max page is 1000). */
export async function countNodes(
  client: EntDbClient,
  tenant: string,
  typeId: number = TRACKER.team,
): Promise<number> {
  return (await client.queryNodes({ tenant, typeId, limit: 1000 })).nodes.length;
}

/**
 * A plan of one Team under `key`, as the generated client sends a write, to a tenant that
 * is unavailable (parked or rebuilding): it must be refused UNAVAILABLE before the log.
 * Returns the error, for its message.
 */
export async function refusedKeyedWrite(
  client: EntDbClient,
  tenant: string,
  key: string,
  slug: string,
): Promise<ConnectError> {
  const refused = await connectError(
    client.executePlan({ tenant, idempotencyKey: key, operations: [teamOp(slug, slug)] }),
  );
  expect(refused.code).toBe(Code.Unavailable);
  return refused;
}

/**
 * Counts `tenant`'s nodes once it is served again: every answer meanwhile must be
 * UNAVAILABLE (a parked or rebuilding tenant), polled every `everyMs` for up to
 * `timeoutMs`; then throws with `logs()`.
 */
export async function countWhenServed(
  client: EntDbClient,
  tenant: string,
  options: { readonly timeoutMs: number; readonly everyMs: number; readonly logs: () => string },
): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const count = await countNodes(client, tenant).catch((err: unknown) => {
      expect(ConnectError.from(err).code).toBe(Code.Unavailable);
      return undefined;
    });
    if (count !== undefined) return count;
    if (Date.now() > deadline)
      throw new Error(`${tenant} was never served again\n${options.logs()}`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
}

/** Options of {@link serverPerFile}. */
export interface ServerPerFileOptions extends StartOptions {
  /** Whether the stop after the file's tests must exit 0 (default true). */
  readonly checkExit?: boolean;
}

/**
 * Registers hooks that start a server before the tests of the current file (or
 * `describe`) and, after them, stop it, remove its data dir and (unless `checkExit` is
 * false) expect exit code 0. The returned handle reads through to that server, so it
 * can be captured at module level and used once the tests run.
 */
export function serverPerFile(options: ServerPerFileOptions = {}): ServerProcess {
  let started: ServerProcess | undefined;
  beforeAll(async () => {
    started = await startServerProcess(options);
  }, 60_000);
  afterAll(async () => {
    if (!started) return;
    const code = await started.stop();
    removeDataDir(started.dataDir);
    if (options.checkExit !== false) expect(code).toBe(0);
  });
  const current = (): ServerProcess => {
    if (!started) throw new Error("the test server is not started yet");
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    get httpPort() {
      return current().httpPort;
    },
    get dataDir() {
      return current().dataDir;
    },
    get child() {
      return current().child;
    },
    logs: () => current().logs(),
    stop: () => current().stop(),
    kill: () => current().kill(),
  };
}

/** How a command run by {@link runCommand} ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file` with `args` to completion; resolves (never rejects) with its exit code and output. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: {
    readonly cwd: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly timeout: number;
  },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, options, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The `entdb serve` flags that configure `tokens` (name → bearer token) as the principals
 * `user:<name>`, with the named `admins` as server administrators.
 */
export function tokenArgs(
  tokens: Readonly<Record<string, string>>,
  admins: readonly string[] = [],
): string[] {
  const list = Object.entries(tokens)
    .map(([name, token]) => `${token}=user:${name}`)
    .join(",");
  const adminList = admins.map((name) => `user:${name}`).join(",");
  return ["--tokens", list, ...(admins.length > 0 ? ["--admins", adminList] : [])];
}

/** A Connect error's JSON body. */
export interface ConnectErrorJson {
  readonly code?: string;
  readonly message?: string;
  readonly details?: readonly { readonly type: string; readonly value: string }[];
}

/** Calls `method` over Connect JSON with `headers`; its HTTP status, body and duration. */
export async function connectJsonCall(
  server: Pick<ServerProcess, "url">,
  method: string,
  body: Record<string, unknown>,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ status: number; answer: ConnectErrorJson; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${server.url}/entdb.v1.EntDbService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const answer = (await res.json()) as ConnectErrorJson;
  return { status: res.status, answer, ms: Date.now() - started };
}

/** The value of one exact sample line of the server's `/metrics`, 0 when absent. */
export async function metricValue(
  server: Pick<ServerProcess, "httpPort">,
  series: string,
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
