/**
 * `npm run bench:pg [-- seconds [rows]]`: EntDB and PostgreSQL 15 side by side, in one table.
 * `rows` picks rows by their load generator op, optionally with a client count, comma
 * separated (`create:1,node-edge,create-100`); all rows when absent.
 *
 * Starts PostgreSQL (`tests/infra/postgres.sh`: Debian's package, fsync and
 * synchronous_commit on) and `entdb serve` (embedded log: durable and applied before
 * the ack), loads the same data into both (2,400 nodes, 2,000 edges; see
 * `pg/schema.sql` and `loadgen load`), then runs every row against EntDB over Connect,
 * EntDB over gRPC, and PostgreSQL, one after another so they never share the cores.
 * EntDB is driven by the compiled Go load generator (`loadgen/`) with its lean client
 * (`ENTDB_BENCH_CLIENT=connect` for connect-go, `both` for a row with each), PostgreSQL by
 * `pgbench -M prepared` with the scripts in `pg/`; both measure the same way: ops/s,
 * p50 and p99, the server's CPU per operation (from /proc; for PostgreSQL the postmaster
 * and all its backends) and the load generator's.
 *
 * `ENTDB_BENCH_SERVE_THREADS=N` starts EntDB with `--serve-threads N` (docs/architecture.md)
 * and `ENTDB_BENCH_CONNS=M` spreads the load generator's EntDB clients over M HTTP/2
 * connections (default 8 with threads, else 1), as pgbench gives each client its own; the
 * table's heading says both.
 *
 * The mixed rows run reads while the tenant is written: their clients read while one more
 * client writes over the same window (op `READ+WRITE` of the load generator; for
 * PostgreSQL a second pgbench runs the writer's script meanwhile). Each prints two lines,
 * the reads and the writes, with their own rates and latencies and the same server CPU
 * per operation: the CPU of the window over the reads and the writes together.
 *
 * Every row runs a warm-up second first. Reads run before mixed rows and writes, so the
 * edge rows find exactly 10 edges per node; the table lists the rows in the issue's order. Everything
 * started is stopped at the end, also on failure or Ctrl-C. A measurement, not a test:
 * nothing passes or fails on a number.
 */

import { type ChildProcess, execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { removeDataDir, type ServerProcess, startServerProcess } from "../e2e/server-process.ts";
import { EMBEDDED_SERVE_ENV } from "../kafka/kafka-serve.ts";
import {
  benchClient,
  buildLoadgen,
  LOADGEN_CLIENTS,
  type LoadgenClient,
  loadgenRunArgs,
} from "./go-toolchain.ts";

const execFileAsync = promisify(execFile);
/** Children running now, stopped first on Ctrl-C so none outlives the servers it drives. */
const running = new Set<ChildProcess>();

/** Runs a program to its end; rejects with its stderr if it fails. */
async function run(file: string, args: readonly string[]): Promise<{ stdout: string }> {
  const pending = execFileAsync(file, args, { maxBuffer: 1 << 20 });
  running.add(pending.child);
  try {
    return await pending;
  } finally {
    running.delete(pending.child);
  }
}
const SECONDS = Number(process.argv[2] ?? "5");
if (!Number.isInteger(SECONDS) || SECONDS < 1) {
  throw new Error(`seconds per row must be a whole number ≥ 1, got '${process.argv[2]}'`);
}
const SERVE_THREADS = Number(process.env["ENTDB_BENCH_SERVE_THREADS"] ?? "0");
const CONNS = Number(process.env["ENTDB_BENCH_CONNS"] ?? (SERVE_THREADS > 0 ? "8" : "1"));
if (!Number.isInteger(SERVE_THREADS) || SERVE_THREADS < 0 || !Number.isInteger(CONNS) || CONNS < 1)
  throw new Error(
    "ENTDB_BENCH_SERVE_THREADS must be a whole number ≥ 0 and ENTDB_BENCH_CONNS one ≥ 1.",
  );
const PG_BIN = "/usr/lib/postgresql/15/bin";
const POSTGRES_SH = join(import.meta.dirname, "..", "infra", "postgres.sh");
const TENANT = "bench";

/** One row of the table: the same operation on each system. */
interface Row {
  readonly label: string;
  readonly clients: number;
  /** `loadgen run --op` */
  readonly op: string;
  /** pgbench script in `pg/` */
  readonly script: string;
  /** Nodes per operation, for the batch rows. */
  readonly nodes?: number;
  readonly writes: boolean;
  /** A mixed row's writer: one client running `loadgen run --op READ+op` / this script. */
  readonly writer?: { readonly label: string; readonly script: string };
}

const ALL_ROWS: readonly Row[] = [
  { label: "create one node", clients: 1, op: "create", script: "create.sql", writes: true },
  { label: "create one node", clients: 32, op: "create", script: "create.sql", writes: true },
  {
    label: "node + edge, one plan",
    clients: 32,
    op: "node-edge",
    script: "node-edge.sql",
    writes: true,
  },
  { label: "get one node", clients: 1, op: "get", script: "get.sql", writes: false },
  { label: "get one node", clients: 32, op: "get", script: "get.sql", writes: false },
  {
    label: "query 50 rows, indexed filter",
    clients: 32,
    op: "query-50",
    script: "query-50.sql",
    writes: false,
  },
  {
    label: "10 edges from a node",
    clients: 32,
    op: "edges-out",
    script: "edges-out.sql",
    writes: false,
  },
  {
    label: "10 edges to a node",
    clients: 32,
    op: "edges-in",
    script: "edges-in.sql",
    writes: false,
  },
  {
    label: "plan of 100 creates",
    clients: 32,
    op: "create-100",
    script: "create-100.sql",
    nodes: 100,
    writes: true,
  },
  {
    label: "GetNodes of 100 ids",
    clients: 32,
    op: "get-100",
    script: "get-100.sql",
    nodes: 100,
    writes: false,
  },
  {
    label: "query 50 rows, indexed filter",
    clients: 32,
    op: "query-50+create-team",
    script: "query-50.sql",
    writes: false,
    writer: { label: "1 client creates teams (another type)", script: "create-team.sql" },
  },
  {
    label: "query 50 rows, indexed filter",
    clients: 32,
    op: "query-50+create",
    script: "query-50.sql",
    writes: false,
    writer: { label: "1 client creates users (the type read)", script: "create.sql" },
  },
  {
    label: "get one node",
    clients: 32,
    op: "get+create",
    script: "get.sql",
    writes: false,
    writer: { label: "1 client creates users (the type read)", script: "create.sql" },
  },
];

/** The rows asked for on the command line (`op` or `op:clients`, comma separated). */
function pickRows(spec: string | undefined): readonly Row[] {
  if (spec === undefined) return ALL_ROWS;
  const wanted = spec.split(",").filter((w) => w !== "");
  for (const w of wanted) {
    if (!ALL_ROWS.some((r) => r.op === w || `${r.op}:${r.clients}` === w))
      throw new Error(
        `no row '${w}'; rows are ${[...new Set(ALL_ROWS.map((r) => `${r.op}:${r.clients}`))].join(", ")}`,
      );
  }
  return ALL_ROWS.filter((r) => wanted.some((w) => r.op === w || `${r.op}:${r.clients}` === w));
}
const ROWS = pickRows(process.argv[3]);

/**
 * The EntDB client(s): `ENTDB_BENCH_CLIENT=lean|connect` (lean when unset), or `both`,
 * which runs every EntDB row with each client to compare what they cost.
 */
const CLIENTS: readonly LoadgenClient[] =
  process.env["ENTDB_BENCH_CLIENT"] === "both" ? LOADGEN_CLIENTS : [benchClient()];

/** One column of systems: EntDB over a protocol with a client, or PostgreSQL. */
interface System {
  readonly name: string;
  readonly entdb?: { readonly protocol: "connect" | "grpc"; readonly client: LoadgenClient };
}
const PG: System = { name: "PostgreSQL 15" };
const SYSTEMS: readonly System[] = [
  ...(["connect", "grpc"] as const).flatMap((protocol) =>
    CLIENTS.map((client) => ({
      name: `EntDB, ${protocol === "grpc" ? "gRPC" : "Connect"}${CLIENTS.length > 1 ? `, ${client === "lean" ? "lean client" : "connect-go"}` : ""}`,
      entdb: { protocol, client },
    })),
  ),
  PG,
];

/** What `loadgen run` and `loadgen pgbench` print. */
interface Measured {
  readonly ops: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly serverCpuUs: number;
  readonly clientCpuUs: number;
  /** A mixed row's writer calls over the same window (`ops` etc. are then the reads'). */
  readonly writes?: {
    readonly ops: number;
    readonly seconds: number;
    readonly p50Us: number;
    readonly p99Us: number;
  };
}

/** One kind of call of a row: its count, window and latencies. */
type Rates = Pick<Measured, "ops" | "seconds" | "p50Us" | "p99Us">;

/** Things to stop at the end, newest first. */
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      await step().catch((error: unknown) => console.error(`clean-up: ${String(error)}`));
    }
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping PostgreSQL and entdb serve`);
    for (const child of running) child.kill("SIGTERM");
    void cleanUp().then(() => process.exit(130));
  });
}

async function loadgen(bin: string, args: readonly string[]): Promise<Measured> {
  const { stdout } = await run(bin, args);
  return JSON.parse(stdout) as Measured;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "entdb-bench-pg-"));
  cleanups.push(async () => removeDataDir(work));
  // As root, PostgreSQL runs as the postgres user, who must reach its state dir in here.
  chmodSync(work, 0o755);
  const started = new Date();
  const load = loadavg();

  const bin = join(work, "loadgen");
  buildLoadgen(bin);

  // PostgreSQL: its state dir inside `work`, given to the postgres user when root.
  const pgDir = join(work, "postgres");
  cleanups.push(async () => {
    await run("bash", [POSTGRES_SH, "stop", "--dir", pgDir, "--clean"]);
  });
  const { stdout: pgUrl } = await run("bash", [POSTGRES_SH, "start", "--dir", pgDir]);
  const url = new URL(pgUrl.trim());
  const database = url.pathname.slice(1);
  const pgServer = ["-h", url.hostname, "-p", url.port, "-U", url.username];
  const postmasterPid = readFileSync(join(pgDir, "data", "postmaster.pid"), "utf8").split("\n")[0];
  await run(join(PG_BIN, "psql"), [
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-f",
    join(import.meta.dirname, "pg", "schema.sql"),
    ...pgServer,
    "-d",
    database,
  ]);

  const dataDir = join(work, "entdb");
  const entdb: ServerProcess = await startServerProcess({
    dataDir,
    env: EMBEDDED_SERVE_ENV,
    args: SERVE_THREADS > 0 ? ["--serve-threads", String(SERVE_THREADS)] : [],
  });
  cleanups.push(async () => {
    await entdb.stop();
  });
  const ids = join(work, "ids.json");
  await run(bin, ["load", "--url", entdb.url, "--tenant", TENANT, "--ids", ids]);

  const results = new Map<string, Measured>();
  const key = (row: Row, system: System) => `${row.op}/${row.clients}/${system.name}`;
  const ordered = [
    ...ROWS.filter((r) => !r.writes && !r.writer),
    ...ROWS.filter((r) => r.writer),
    ...ROWS.filter((r) => r.writes),
  ];
  for (const row of ordered) {
    for (const system of SYSTEMS) {
      if (system.entdb === undefined) continue;
      results.set(
        key(row, system),
        await loadgen(
          bin,
          loadgenRunArgs({
            url: entdb.url,
            protocol: system.entdb.protocol,
            client: system.entdb.client,
            tenant: TENANT,
            op: row.op,
            clients: row.clients,
            seconds: SECONDS,
            ids,
            serverPid: entdb.child.pid,
            ...(CONNS > 1 ? { conns: CONNS } : {}),
          }),
        ),
      );
    }
    const logDir = mkdtempSync(join(work, "pgbench-"));
    results.set(
      key(row, PG),
      await loadgen(bin, [
        "pgbench",
        "--pgbench",
        join(PG_BIN, "pgbench"),
        "--postmaster-pid",
        postmasterPid ?? "",
        "--clients",
        String(row.clients),
        "--seconds",
        String(SECONDS),
        "--script",
        join(import.meta.dirname, "pg", row.script),
        ...(row.writer
          ? ["--writer-script", join(import.meta.dirname, "pg", row.writer.script)]
          : []),
        "--log-dir",
        logDir,
        "--",
        ...pgServer,
        database,
      ]),
    );
    process.stderr.write(".");
  }
  process.stderr.write("\n");

  console.log(
    `\n${started.toISOString().slice(0, 16)} UTC, ${cpus().length} cores (load average ${load.map((l) => l.toFixed(2)).join(", ")} at the start), ${SECONDS} s per row after 1 s of warm-up, EntDB driven by the load generator's ${CLIENTS.map((c) => (c === "lean" ? "lean client" : "connect-go client")).join(" and its ")}. EntDB: \`--serve-threads ${SERVE_THREADS}\`, its clients over ${CONNS} HTTP/2 connection${CONNS === 1 ? "" : "s"}. CPU columns: µs of CPU (user + system) per operation (in a mixed row, over its reads and writes together).\n`,
  );
  console.log(
    "| op | clients | system | ops/s | p50 | p99 | server CPU/op | load generator CPU/op | EntDB/PG |",
  );
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
  for (const row of ROWS) {
    const pg = results.get(key(row, PG));
    for (const system of SYSTEMS) {
      const m = results.get(key(row, system));
      if (!m || !pg) continue;
      const cpuPerOp = (mm: Measured) => mm.serverCpuUs / (mm.ops + (mm.writes?.ops ?? 0));
      const line = (label: string, s: Rates, p: Rates) => {
        const rate = s.ops / s.seconds;
        const ratio = system === PG ? "" : `${fmt(rate / (p.ops / p.seconds), 2)}×`;
        const nodes = row.nodes ? ` (${fmt(rate * row.nodes)} nodes/s)` : "";
        console.log(
          `| ${label} | ${row.clients} | ${system.name} | ${fmt(rate)}${nodes} | ${ms(s.p50Us)} | ${ms(s.p99Us)} | ${fmt(cpuPerOp(m))} µs | ${fmt(m.clientCpuUs / (m.ops + (m.writes?.ops ?? 0)))} µs | ${ratio} |`,
        );
      };
      if (row.writer === undefined) {
        line(row.label, m, pg);
        continue;
      }
      if (!m.writes || !pg.writes) throw new Error(`the mixed row ${row.op} measured no writes`);
      line(`${row.label}, while ${row.writer.label}: the reads`, m, pg);
      line(`${row.label}, while ${row.writer.label}: the writes`, m.writes, pg.writes);
    }
  }
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (us: number): string => (us < 1000 ? `${fmt(us)} µs` : `${fmt(us / 1000, 2)} ms`);

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  // After Ctrl-C the children fail because they were stopped: nothing to report.
  if (cleaning === undefined) console.error(error);
} finally {
  await cleanUp();
}
