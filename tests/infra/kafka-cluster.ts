/**
 * Test access to a real Kafka cluster run by `tests/infra/kafka.sh`: start (or reuse)
 * one, kill and restart nodes, stop it. Every call is bounded by a timeout; a cluster
 * that cannot start makes the calling test fail with the script's message (which ends
 * with the brokers' log tails), never skip.
 */

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./kafka.sh", import.meta.url));

/** Generous: a cold start may first fetch the broker jars from Maven Central. */
const START_TIMEOUT_MS = 300_000;
const OTHER_TIMEOUT_MS = 60_000;

/** A running cluster. */
export interface KafkaCluster {
  /** Bootstrap addresses, `127.0.0.1:port`. */
  readonly brokers: readonly string[];
  /** The state dir, or undefined for a cluster given by `ENTDB_KAFKA_BROKERS`. */
  readonly dir: string | undefined;
  /** SIGKILLs the given nodes (1-based ids) and waits until they are gone. */
  killNodes(...nodes: number[]): Promise<void>;
  /** Restarts the given nodes on their old storage; waits until they are registered again. */
  startNodes(...nodes: number[]): Promise<void>;
  /** Stops the cluster if this process started it (and removes its dir if asked). */
  stop(): Promise<void>;
}

/** Options for {@link startKafkaCluster}. */
export interface StartKafkaClusterOptions {
  /** 1 or 3 nodes. */
  readonly nodes: 1 | 3;
  /** State dir (default: the script's default, `.tmp/kafka`). */
  readonly dir?: string;
  /** Remove an existing cluster in `dir` first, and the dir on `stop`. */
  readonly fresh?: boolean;
  /** First broker port (default the script's: 19092 for one node, 19192 for three). */
  readonly port?: number;
}

/** Runs the script; rejects with its stderr (which explains a failure) on a non-zero exit. */
export function runKafkaScript(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [SCRIPT, ...args],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const why = error.killed ? `timed out after ${timeoutMs} ms` : `exit code ${error.code}`;
        reject(new Error(`tests/infra/kafka.sh ${args.join(" ")} failed (${why}):\n${stderr}`));
      },
    );
  });
}

function lastLine(stdout: string): string {
  return stdout.trim().split("\n").at(-1) ?? "";
}

/**
 * Starts a cluster with the script, or reuses one already running in `dir`. A reused
 * cluster is left running by `stop` (whoever started it stops it).
 */
export async function startKafkaCluster(options: StartKafkaClusterOptions): Promise<KafkaCluster> {
  const dirArgs = options.dir === undefined ? [] : ["--dir", options.dir];
  let startedHere = true;
  if (options.fresh === true) {
    await runKafkaScript(["stop", "--clean", ...dirArgs], OTHER_TIMEOUT_MS);
  } else {
    startedHere = !(await runKafkaScript(["status", ...dirArgs], OTHER_TIMEOUT_MS).then(
      () => true,
      () => false,
    ));
  }
  const stdout = await runKafkaScript(
    [
      "start",
      "--nodes",
      String(options.nodes),
      ...(options.port === undefined ? [] : ["--port", String(options.port)]),
      ...dirArgs,
    ],
    START_TIMEOUT_MS,
  );
  const brokers = lastLine(stdout).split(",");
  return {
    brokers,
    dir: options.dir,
    killNodes: async (...nodes) => {
      await runKafkaScript(["kill-node", ...nodes.map(String), ...dirArgs], OTHER_TIMEOUT_MS);
    },
    startNodes: async (...nodes) => {
      await runKafkaScript(["start-node", ...nodes.map(String), ...dirArgs], START_TIMEOUT_MS);
    },
    stop: async () => {
      if (!startedHere) return;
      const clean = options.fresh === true ? ["--clean"] : [];
      await runKafkaScript(["stop", ...clean, ...dirArgs], OTHER_TIMEOUT_MS);
    },
  };
}

/**
 * The single-node cluster for WAL tests: `ENTDB_KAFKA_BROKERS` (comma-separated) when set
 * (e.g. by CI, which started the broker itself), otherwise one started by the script.
 */
export async function singleNodeKafka(): Promise<KafkaCluster> {
  const given = process.env["ENTDB_KAFKA_BROKERS"];
  if (given !== undefined && given.trim() !== "") {
    const unsupported = () =>
      Promise.reject(new Error("ENTDB_KAFKA_BROKERS cluster: not managed here"));
    return {
      brokers: given.split(",").map((b) => b.trim()),
      dir: undefined,
      killNodes: unsupported,
      startNodes: unsupported,
      stop: () => Promise.resolve(),
    };
  }
  return startKafkaCluster({ nodes: 1 });
}
