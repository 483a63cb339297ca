/**
 * Starts `entdb serve` as a child process for end-to-end tests and benchmarks: free
 * ports, a temp data dir (or a given one), waits until `/ready`, and stops it with
 * SIGTERM (or kills it with SIGKILL for crash tests). The child's stderr (JSON logs)
 * is kept so a failing test can print it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root: the server runs from here and the example files live below it. */
export const REPO_ROOT = join(import.meta.dirname, "..", "..");

/** A running server child. */
export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  logs(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Options of {@link startServerProcess}. */
export interface StartOptions {
  readonly schema?: string;
  /** Reuse a data dir (e.g. to restart after a kill); a fresh temp dir otherwise. */
  readonly dataDir?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** The ops path that must answer 200 before the server counts as started (default `/ready`). */
  readonly readyPath?: "/ready" | "/health";
  /** The API and ops ports (e.g. to restart on the ports clients already use); free ones otherwise. */
  readonly port?: number;
  readonly httpPort?: number;
}

/** A free TCP port on loopback. */
/**
 * A port free on 127.0.0.1 now, drawn at random below the kernel's ephemeral range
 * (32768–60999 here): a port the kernel hands out (`listen(0)`) is also what every
 * outgoing connection on the machine takes, so between this check and the server's bind
 * a client elsewhere could take it. Below the range only another listener can.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  return bindable(0);
}

/** Binds `port` (0: any) on 127.0.0.1 and lets it go: the port bound, or 0 if refused. */
function bindable(port: number): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(0));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/** A fresh temp data dir; remove it with {@link removeDataDir}. */
export function tempDataDir(prefix = "entdb-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a data dir made by {@link tempDataDir}. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Spawns `entdb serve` with the test defaults (schema, data dir, ports) plus `options`. */
function spawnServe(
  options: StartOptions,
  dataDir: string,
  port: number,
  httpPort: number,
): ChildProcess {
  const schema = options.schema ?? join(REPO_ROOT, "examples", "tracker", "schema.entdb");
  return spawn(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "entdb.ts"),
      "serve",
      "--schema",
      schema,
      "--data-dir",
      dataDir,
      "--port",
      String(port),
      "--http-port",
      String(httpPort),
      ...(options.args ?? []),
    ],
    {
      cwd: REPO_ROOT,
      // Embedded unless the test says otherwise: a broker exported for the Kafka tests
      // must not switch every test server onto one shared topic.
      env: {
        ...process.env,
        ENTDB_LOG_LEVEL: "info",
        ENTDB_WAL: "embedded",
        ENTDB_KAFKA_BROKERS: "",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

/** How a server run that was expected to fail at start ended. */
export interface ServeExit {
  readonly code: number | null;
  readonly stderr: string;
  /** Whether the API port accepted a connection before the process exited. */
  readonly listened: boolean;
}

/**
 * Runs `entdb serve` expecting it to exit on its own (a bad schema, a refused
 * configuration) and reports the exit code and stderr. If it is still running after
 * `timeoutMs` it is killed and the promise rejects with its logs.
 */
export async function runServeToExit(
  options: StartOptions & { readonly timeoutMs?: number } = {},
): Promise<ServeExit> {
  const dataDir = options.dataDir ?? tempDataDir();
  const port = await freePort();
  const child = spawnServe(options, dataDir, port, await freePort());
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  let listened = false;
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (exitCode === undefined && Date.now() < deadline) {
    if (!listened) listened = await accepts(port);
    await sleep(50);
  }
  if (exitCode === undefined) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`entdb serve was still running after the timeout:\n${stderr}`);
  }
  return { code: await exited, stderr, listened };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts a server and waits until it is ready; rejects with its logs if it exits or times
 * out. Ports it picked itself are picked again (twice at most) if another program bound
 * one of them before the server did.
 */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? tempDataDir();
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const httpPort = options.httpPort ?? (await freePort());
    try {
      return await startOnce(options, dataDir, port, httpPort);
    } catch (error) {
      const picked = options.port === undefined || options.httpPort === undefined;
      const taken = error instanceof Error && error.message.includes("the port is already in use");
      if (!picked || !taken || attempt === 3) throw error;
    }
  }
}

async function startOnce(
  options: StartOptions,
  dataDir: string,
  port: number,
  httpPort: number,
): Promise<ServerProcess> {
  const child = spawnServe(options, dataDir, port, httpPort);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let ready = false;
  while (Date.now() < deadline) {
    const early = await Promise.race([
      exited.then((code) => ({ code })),
      sleep(100).then(() => undefined),
    ]);
    if (early)
      throw new Error(`entdb serve exited with ${early.code} before it was ready:\n${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}${options.readyPath ?? "/ready"}`);
      if (res.status === 200) {
        ready = true;
        break;
      }
    } catch {
      // not listening yet
    }
  }
  if (!ready) {
    child.kill("SIGKILL");
    throw new Error(`entdb serve was not ready within the timeout:\n${stderr}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    httpPort,
    dataDir,
    child,
    logs: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
