/**
 * End-to-end server benchmark: starts `entdb serve` (embedded WAL) as a child process
 * and measures it through the Connect client, then runs the same transactions on raw
 * better-sqlite3 in this process as the ceiling, and prints one markdown table.
 *
 * Rows: an atomic plan (create a User + a MemberOf edge to an existing Team, durable
 * and applied) at 1 and 64 concurrent clients over HTTP/2, and at 64 over HTTP/1.1; get
 * one node; query 50 rows; list 50 edges. Then the server's resident memory (VmRSS)
 * after 1,000 tenants were touched with one write each.
 *
 * Two load generators, named in each row:
 * - "lean": a minimal Connect unary client (`lean-connect-client.ts`). It measures the
 *   server, since the load generator shares the machine's two cores with it.
 * - "Connect": Connect's own Node client, which the generated client uses. It measures
 *   what an app sees, including that client's own CPU.
 *
 * Run: `node tests/bench/server-bench.ts [seconds-per-row] [--cpu-prof] [--wal kafka,kinesis]`
 * (default 3 s). `--cpu-prof` profiles the server child and prints its top functions by
 * self time. `--wal kafka` then starts a second server on the Kafka WAL (the brokers of
 * `ENTDB_KAFKA_BROKERS`, or a single node started with `tests/infra/kafka.sh`; a fresh
 * topic, replication 1) and prints its atomic-plan rows beside the embedded WAL's;
 * `--wal kinesis` does the same on the Kinesis WAL (moto on loopback, started with
 * `tests/infra/kinesis.sh`; a fresh stream); `--wal kafka,kinesis` both.
 * The data dir is a temp dir on the disk that holds `os.tmpdir()`; for meaningful
 * write numbers it must not be tmpfs (fsync would be free).
 */

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  Direction,
  EntDbService,
  type ExecutePlanResponse,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import type { ValueSchema } from "../../generated/entdb/v1/values_pb.js";

type Operation = MessageInitShape<typeof OperationSchema>;
type Value = MessageInitShape<typeof ValueSchema>;

import { removeDataDir, startServerProcess, tempDataDir } from "../e2e/server-process.ts";
import { singleNodeKafka } from "../infra/kafka-cluster.ts";
import { freshStreamName, kinesisServeEnv, startKinesisServer } from "../infra/kinesis-server.ts";
import {
  deleteKafkaTopic,
  EMBEDDED_SERVE_ENV,
  freshTopicName,
  type KafkaServeTopic,
  kafkaServeEnv,
} from "../kafka/kafka-serve.ts";
import { createLeanClient } from "./lean-connect-client.ts";
import { openRawBench, type RawResult } from "./server-bench-sqlite.ts";

const args = process.argv.slice(2);
const walAt = args.indexOf("--wal");
/** The logs measured beside the embedded one. */
const WALS = (walAt === -1 ? "embedded" : (args[walAt + 1] ?? ""))
  .split(",")
  .filter((wal) => wal !== "embedded");
for (const wal of WALS) {
  if (wal !== "kafka" && wal !== "kinesis") {
    throw new Error(`--wal ${wal}: use embedded, kafka or kinesis (comma-separated)`);
  }
}
const SECONDS = Number(
  args.find((a, i) => !a.startsWith("--") && !(walAt !== -1 && i === walAt + 1)) ?? "3",
);
const CPU_PROF = args.includes("--cpu-prof");
/** Partitions of the Kafka row's topic (the server's default). */
const KAFKA_PARTITIONS = 8;
/** Shards of the Kinesis row's stream (the server's default). */
const KINESIS_SHARDS = 4;
const TENANT = "bench";

type Client = ReturnType<typeof createClient<typeof EntDbService>>;

/** One measured row of the server side. */
interface Measured {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const str = (value: string): Value => ({ kind: { case: "stringValue", value } });
const ts = (): Value => ({
  kind: {
    case: "timestampValue",
    value: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
  },
});

let planNo = 0;
/** A User and its MemberOf edge to `teamId`, with unique email and handle. */
function userPlan(teamId: string): Operation[] {
  const i = planNo++;
  return [
    {
      op: {
        case: "createNode",
        value: {
          typeId: 1,
          alias: "u",
          fields: {
            1: str(`user-${i}@example.com`),
            2: str(`User ${i}`),
            3: str(`user${i}`),
            6: ts(),
          },
        },
      },
    },
    {
      op: {
        case: "createEdge",
        value: { edgeTypeId: 100, fromId: "$u", toId: teamId, props: { 2: ts() } },
      },
    },
  ];
}

/** Runs `workers` closed loops of `op` for `seconds`; latency per call. */
async function closedLoop(
  workers: number,
  seconds: number,
  op: () => Promise<void>,
): Promise<Measured> {
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return {
    opsPerSecond: lat.length / elapsed,
    p50Ms: lat[Math.floor(lat.length * 0.5)] ?? 0,
    p99Ms: lat[Math.floor(lat.length * 0.99)] ?? 0,
  };
}

/**
 * The atomic-plan rows of one server: 1 and 64 clients over HTTP/2 with the lean load
 * generator, and 64 with Connect's client over HTTP/2 and HTTP/1.1.
 */
interface PlanRows {
  readonly plan1: Measured;
  readonly plan64: Measured;
  readonly plan64connect: Measured;
  readonly plan64h1: Measured;
  readonly teamId: string;
  readonly userIds: readonly string[];
}

/** Creates the team, warms up, and measures the plan rows against `url`. */
async function measurePlans(url: string, withHttp1: boolean): Promise<PlanRows> {
  const h2: Client = createClient(
    EntDbService,
    createConnectTransport({ baseUrl: url, httpVersion: "2" }),
  );
  const h1: Client = createClient(
    EntDbService,
    createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  );
  const team = await h2.executePlan({
    tenant: TENANT,
    idempotencyKey: "team",
    operations: [
      {
        op: {
          case: "createNode",
          value: { typeId: 2, fields: { 1: str("Bench"), 2: str("bench") } },
        },
      },
    ],
  });
  const teamId = team.results[0]?.id ?? "";
  const userIds: string[] = [];
  const applied = (res: ExecutePlanResponse) => {
    if (!res.receipt?.applied) throw new Error("a plan was not applied in time");
    userIds.push(res.results[0]?.id ?? "");
  };
  const write = (client: Client) => async (): Promise<void> => {
    applied(
      await client.executePlan({
        tenant: TENANT,
        idempotencyKey: `p-${planNo}`,
        operations: userPlan(teamId),
      }),
    );
  };
  const lean = createLeanClient(url);
  const writeLean = async (): Promise<void> => {
    applied(
      await lean.call(EntDbService.method.executePlan, {
        tenant: TENANT,
        idempotencyKey: `p-${planNo}`,
        operations: userPlan(teamId),
      }),
    );
  };
  try {
    // Warm up the connections, the JIT and the tenant file.
    await closedLoop(8, 1, write(h2));
    await closedLoop(8, 1, writeLean);

    const plan1 = await closedLoop(1, SECONDS, writeLean);
    const plan64 = await closedLoop(64, SECONDS, writeLean);
    const plan64connect = await closedLoop(64, SECONDS, write(h2));
    const plan64h1 = withHttp1 ? await closedLoop(64, SECONDS, write(h1)) : plan64connect;
    return { plan1, plan64, plan64connect, plan64h1, teamId, userIds };
  } finally {
    lean.close();
  }
}

/** Runs a server on a fresh Kafka topic and measures its plan rows. */
async function measureKafka(): Promise<PlanRows> {
  const cluster = await singleNodeKafka();
  const log: KafkaServeTopic = {
    brokers: cluster.brokers,
    topic: freshTopicName("bench"),
    partitions: KAFKA_PARTITIONS,
  };
  const dataDir = tempDataDir("entdb-bench-kafka-");
  try {
    const server = await startServerProcess({
      dataDir,
      env: kafkaServeEnv(log),
      readyTimeoutMs: 60_000,
    });
    try {
      return await measurePlans(server.url, false);
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
    await deleteKafkaTopic(log).catch(() => {});
    await cluster.stop();
  }
}

/** Runs a server on a fresh Kinesis stream (moto on loopback) and measures its plan rows. */
async function measureKinesis(): Promise<PlanRows> {
  const endpoint = await startKinesisServer();
  const dataDir = tempDataDir("entdb-bench-kinesis-");
  try {
    const server = await startServerProcess({
      dataDir,
      env: kinesisServeEnv(endpoint, freshStreamName("bench"), KINESIS_SHARDS),
      readyTimeoutMs: 60_000,
    });
    try {
      return await measurePlans(server.url, false);
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
}

function vmRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "0");
  return kb / 1024;
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number): string => (n < 1 ? `${fmt(n * 1000)} µs` : `${fmt(n, 2)} ms`);

/** Top functions by self time across the `.cpuprofile` files in `dir`. */
function topFunctions(dir: string, count: number): string[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(dir, f), "utf8")) as {
      nodes: {
        hitCount?: number;
        callFrame: { functionName: string; url: string; lineNumber: number };
      }[];
    };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "");
      const key = `${functionName || "(anonymous)"} ${file}${file ? `:${lineNumber + 1}` : ""}`;
      self.set(key, (self.get(key) ?? 0) + hits);
      total += hits;
    }
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, hits]) => `| ${fmt((hits / total) * 100, 1)} % | \`${key}\` |`);
}

async function main(): Promise<void> {
  const dataDir = tempDataDir("entdb-bench-");
  const profDir = join(dataDir, "..", `${dataDir.split("/").pop() ?? "bench"}-prof`);
  if (CPU_PROF) mkdirSync(profDir, { recursive: true });
  const server = await startServerProcess({
    dataDir,
    env: {
      ...EMBEDDED_SERVE_ENV,
      ...(CPU_PROF
        ? {
            NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --cpu-prof --cpu-prof-dir=${profDir}`,
          }
        : {}),
    },
  });
  const pid = server.child.pid ?? 0;
  const h2: Client = createClient(
    EntDbService,
    createConnectTransport({ baseUrl: server.url, httpVersion: "2" }),
  );
  let embedded: { readonly plan1: Measured; readonly plan64: Measured } | undefined;
  const rows: string[] = [];
  const row = (name: string, s: Measured, raw: RawResult | undefined): void => {
    const ratio = raw ? `${fmt((s.opsPerSecond / raw.opsPerSecond) * 100, 1)} %` : "";
    const rawCell = raw ? `${fmt(raw.opsPerSecond)} /s, p50 ${ms(raw.p50Ms)}` : "";
    rows.push(
      `| ${name} | ${fmt(s.opsPerSecond)} | ${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${rawCell} | ${ratio} |`,
    );
  };

  try {
    const rssStart = vmRssMb(pid);
    const { plan1, plan64, plan64connect, plan64h1, teamId, userIds } = await measurePlans(
      server.url,
      true,
    );
    embedded = { plan1, plan64 };
    const lean = createLeanClient(server.url);
    let r = 0;
    const nextUser = () => userIds[r++ % userIds.length] ?? "";
    const getOne = await closedLoop(1, SECONDS, async () => {
      const res = await lean.call(EntDbService.method.getNode, {
        tenant: TENANT,
        typeId: 1,
        id: nextUser(),
      });
      if (!res.node) throw new Error("node missing");
    });
    const getOneConnect = await closedLoop(1, SECONDS, async () => {
      const res = await h2.getNode({ tenant: TENANT, typeId: 1, id: nextUser() });
      if (!res.node) throw new Error("node missing");
    });
    const query50 = await closedLoop(1, SECONDS, async () => {
      const res = await lean.call(EntDbService.method.queryNodes, {
        tenant: TENANT,
        typeId: 1,
        limit: 50,
      });
      if (res.nodes.length !== 50) throw new Error(`query returned ${res.nodes.length} rows`);
    });
    const edges = await closedLoop(1, SECONDS, async () => {
      const res = await lean.call(EntDbService.method.listEdges, {
        tenant: TENANT,
        edgeTypeId: 100,
        nodeId: teamId,
        direction: Direction.IN,
        limit: 50,
      });
      if (res.edges.length !== 50) throw new Error(`listEdges returned ${res.edges.length}`);
    });
    lean.close();

    const rssBefore = vmRssMb(pid);
    let t = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (t < 1000) {
          const i = t++;
          await h2.executePlan({
            tenant: `tenant-${i}`,
            idempotencyKey: "first",
            operations: [
              {
                op: {
                  case: "createNode",
                  value: { typeId: 2, fields: { 1: str(`T${i}`), 2: str(`t${i}`) } },
                },
              },
            ],
          });
        }
      }),
    );
    const rssAfter = vmRssMb(pid);

    // The ceiling, in the same run, on the same disk.
    const raw = openRawBench(join(dataDir, "raw.sqlite"), userIds.length);
    const rawPlan1 = raw.plans(SECONDS);
    const rawPlan64 = raw.groupedPlans(SECONDS, 64);
    const rawGet = raw.getOne(SECONDS);
    const rawQuery = raw.query50(SECONDS);
    const rawEdges = raw.listEdges(SECONDS);
    raw.close();

    row("plan (node + edge), 1 client, HTTP/2, lean", plan1, rawPlan1);
    row("plan (node + edge), 64 clients, HTTP/2, lean", plan64, rawPlan64);
    row("plan (node + edge), 64 clients, HTTP/2, Connect", plan64connect, rawPlan64);
    row("plan (node + edge), 64 clients, HTTP/1.1, Connect", plan64h1, rawPlan64);
    row("get one node, 1 client, lean", getOne, rawGet);
    row("get one node, 1 client, Connect", getOneConnect, rawGet);
    row("query 50 rows, 1 client, lean", query50, rawQuery);
    row("list 50 edges, 1 client, lean", edges, rawEdges);

    console.log(
      `\n${SECONDS} s per row; ${userIds.length} users in the tenant at the end; the raw 64-client row is 64 plans per transaction (ideal group commit).\n`,
    );
    console.log("| workload | server ops/s | p50 | p99 | raw better-sqlite3 | server / raw |");
    console.log("|---|---:|---:|---:|---|---:|");
    for (const line of rows) console.log(line);
    console.log(
      `\nServer RSS: ${fmt(rssStart)} MB after start, ${fmt(rssBefore)} MB after the rows above, ${fmt(rssAfter)} MB after 1,000 tenants touched (one write each).`,
    );
  } finally {
    await server.stop();
    if (CPU_PROF) {
      console.log("\nServer CPU profile, top functions by self time:\n");
      console.log("| self | function |\n|---:|---|");
      for (const line of topFunctions(profDir, 25)) console.log(line);
      removeDataDir(profDir);
    }
    removeDataDir(dataDir);
  }
  if (WALS.length === 0 || embedded === undefined) return;
  // Measured after the embedded server stopped, so they do not share the CPU.
  const others: { readonly name: string; readonly rows: PlanRows }[] = [];
  for (const wal of WALS) {
    if (wal === "kafka") others.push({ name: "Kafka", rows: await measureKafka() });
    else others.push({ name: "Kinesis", rows: await measureKinesis() });
  }
  const cells = (m: Measured): string => `${fmt(m.opsPerSecond)} | ${ms(m.p50Ms)} | ${ms(m.p99Ms)}`;
  const setups = [
    "embedded: fsync per group commit",
    ...(WALS.includes("kafka")
      ? [`Kafka: one local broker, replication 1, acks=all, ${KAFKA_PARTITIONS} partitions`]
      : []),
    ...(WALS.includes("kinesis")
      ? [`Kinesis: moto on loopback, ${KINESIS_SHARDS} shards, PutRecords per group`]
      : []),
  ];
  console.log(
    `\nAtomic plans by WAL (${SECONDS} s per row, HTTP/2, lean load generator; ${setups.join("; ")}):\n`,
  );
  const names = others.map((o) => ` ${o.name} ops/s | p50 | p99 |`).join("");
  console.log(`| workload | embedded ops/s | p50 | p99 |${names}`);
  console.log(`|---|---:|---:|---:|${others.map(() => "---:|---:|---:|").join("")}`);
  const walRow = (what: string, pick: (rows: { plan1: Measured; plan64: Measured }) => Measured) =>
    console.log(
      `| ${what} | ${cells(pick(embedded))} |${others.map((o) => ` ${cells(pick(o.rows))} |`).join("")}`,
    );
  walRow("plan (node + edge), 1 client", (rows) => rows.plan1);
  walRow("plan (node + edge), 64 clients", (rows) => rows.plan64);
}

await main();
