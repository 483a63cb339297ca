/**
 * Starts `entdb serve` as a child process for end-to-end tests and benchmarks: free
 * ports, a temp data dir (or a given one), waits until `/ready`, and stops it with
 * SIGTERM (or kills it with SIGKILL for crash tests). The child's stderr (JSON logs)
 * is kept so a failing test can print it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

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
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A fresh temp data dir; remove it with {@link removeDataDir}. */
export function tempDataDir(prefix = "entdb-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a server and waits until it is ready; rejects with its logs if it exits or times out. */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? tempDataDir();
  const port = await freePort();
  const httpPort = await freePort();
  const schema = options.schema ?? join(root, "examples", "tracker", "schema.entdb");
  const child = spawn(
    process.execPath,
    [
      join(root, "bin", "entdb.ts"),
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
      cwd: root,
      env: { ...process.env, ENTDB_LOG_LEVEL: "info", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
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
      const res = await fetch(`http://127.0.0.1:${httpPort}/ready`);
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
