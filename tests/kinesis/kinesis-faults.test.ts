/**
 * `entdb serve` on the Kinesis WAL with Kinesis misbehaving, through the loopback fault
 * proxy (`tests/infra/kinesis-fault-proxy.ts`) in front of moto:
 * - an outage: a write fails cleanly as UNAVAILABLE with a message naming the cause,
 *   nothing acknowledged before it is lost (also across a restart), and a retry with the
 *   same idempotency key after Kinesis is back applies once;
 * - throttling: whole requests refused with ProvisionedThroughputExceededException are
 *   backed off and retried, and the write is acknowledged and applied once;
 * - configuration: `--wal kinesis` without a stream or region fails at start, saying
 *   which variable to set.
 */

import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectError,
  countNodes,
  type EntDbClient,
  entDbClient,
  teamPlan,
} from "../e2e/e2e-helpers.ts";
import {
  removeDataDir,
  runServeToExit,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { KinesisFaultProxy } from "../infra/kinesis-fault-proxy.ts";
import {
  freshStreamName,
  kinesisServeEnv,
  kinesisTestEnv,
  startKinesisServer,
} from "../infra/kinesis-server.ts";

let endpoint = "";
const dirs: string[] = [];
const servers: ServerProcess[] = [];
const proxies: KinesisFaultProxy[] = [];

beforeAll(async () => {
  endpoint = await startKinesisServer();
}, 180_000);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(() => {
  for (const dir of dirs) removeDataDir(dir);
});

/** A server on a fresh stream behind a fresh proxy; appends give up after 1.5 s. */
async function serveBehindProxy(dataDir?: string, stream = freshStreamName("faults")) {
  const proxy = await KinesisFaultProxy.start(endpoint);
  proxies.push(proxy);
  const dir = dataDir ?? tempDataDir("entdb-kinesis-faults-");
  if (dataDir === undefined) dirs.push(dir);
  const server = await startServerProcess({
    dataDir: dir,
    env: kinesisServeEnv(proxy.url, stream, 2, { ENTDB_KINESIS_APPEND_TIMEOUT_MS: "1500" }),
  });
  servers.push(server);
  return { proxy, server, client: entDbClient(server), stream, dir };
}

function createTeam(client: EntDbClient, tenant: string, slug: string, key: string) {
  return client.executePlan({ ...teamPlan(tenant, slug), idempotencyKey: key });
}

describe("entdb serve on the Kinesis WAL with Kinesis faults", () => {
  it("fails a write as UNAVAILABLE during an outage, loses nothing acknowledged, and a retry with the same key applies once", async () => {
    const { proxy, server, client, stream, dir } = await serveBehindProxy();
    const before = await createTeam(client, "acme", "before", "k-before");
    expect(before.receipt?.applied).toBe(true);

    await proxy.down();
    const error = await connectError(createTeam(client, "acme", "during", "k-during"));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(
      /^The log is unavailable: Kinesis did not accept the records for shard shardId-\d+ of stream "[^"]+" within 1500 ms \(last problem: .*ECONNREFUSED.*\); retry with the same idempotency key\.$/,
    );
    await proxy.up();

    const retried = await createTeam(client, "acme", "during", "k-during");
    expect(retried.receipt?.applied).toBe(true);
    const again = await createTeam(client, "acme", "during", "k-during");
    expect(again.results[0]?.id).toBe(retried.results[0]?.id);
    expect(await countNodes(client, "acme")).toBe(2);

    // A restart reads the stream again: both acknowledged writes, once each.
    expect(await server.stop()).toBe(0);
    servers.splice(servers.indexOf(server), 1);
    const restarted = await serveBehindProxy(dir, stream);
    expect(await countNodes(restarted.client, "acme")).toBe(2);
    const after = await createTeam(restarted.client, "acme", "after", "k-after");
    expect(after.receipt?.applied).toBe(true);
    expect(await countNodes(restarted.client, "acme")).toBe(3);
  });

  it("backs off while Kinesis throttles, then acknowledges and applies the write once", async () => {
    const { proxy, client } = await serveBehindProxy();
    await createTeam(client, "acme", "warm", "k-warm");
    const requestsBefore = proxy.putRequests;
    proxy.throttleRequests(3);
    const res = await createTeam(client, "acme", "throttled", "k-throttled");
    expect(res.receipt?.applied).toBe(true);
    expect(proxy.putRequests - requestsBefore).toBe(4);
    expect(await countNodes(client, "acme")).toBe(2);
  });

  it("refuses to start on --wal kinesis without a stream or a region, naming the variable", async () => {
    const env = { ...kinesisTestEnv(endpoint), ENTDB_WAL: "kinesis", ENTDB_KAFKA_BROKERS: "" };
    const noStream = await runServeToExit({ env: { ...env, ENTDB_KINESIS_STREAM: "" } });
    expect(noStream.code).not.toBe(0);
    expect(noStream.stderr).toContain(
      "--wal kinesis needs a stream: set ENTDB_KINESIS_STREAM=name.",
    );
    const noRegion = await runServeToExit({
      env: { ...env, ENTDB_KINESIS_STREAM: "s", AWS_REGION: "", AWS_DEFAULT_REGION: "" },
    });
    expect(noRegion.code).not.toBe(0);
    expect(noRegion.stderr).toContain("--wal kinesis needs a region: set AWS_REGION.");
  });
});
