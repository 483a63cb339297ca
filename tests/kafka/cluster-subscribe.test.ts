import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { entDbClient } from "../e2e/e2e-helpers.ts";
import {
  clusterMember,
  type Member,
  startClusterMember,
  tenantsPerPartition,
  useClusterTopic,
  waitForOwners,
} from "./cluster-servers.ts";

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_MS = 120_000;
const TENANTS = tenantsPerPartition(1, PARTITIONS);

const cluster = useClusterTopic("cluster-subscribe", PARTITIONS);

async function start(name: string): Promise<Member> {
  const m = await clusterMember(name);
  cluster.dataDirs.push(m.dataDir);
  cluster.servers.push(
    await startClusterMember(m, cluster.topic, SESSION_TIMEOUT_MS, [], {
      env: { ENTDB_SUBSCRIBER_HEARTBEAT_MS: String(HEARTBEAT_MS) },
    }),
  );
  return m;
}

describe("Subscribe on a server of a cluster", () => {
  it("ends when the server stops serving the tenant, not at the next heartbeat", async () => {
    const a = await start("a");
    const b = await start("b");
    const owners = await waitForOwners([a, b], TENANTS, 60_000);
    const tenant = TENANTS.find((t) => owners.get(t) === a.url)!;

    const abort = new AbortController();
    const stream = entDbClient({ url: a.url }).subscribe({ tenant }, { signal: abort.signal });
    const responses = stream[Symbol.asyncIterator]();
    const first = await responses.next();
    expect(first.done).toBe(false);
    // The rest of the stream: how it ends, and when.
    const joining = Date.now();
    const ended = (async () => {
      try {
        // Only checkpoints: nothing is written.
        while (!(await responses.next()).done) {}
        return { ms: Date.now() - joining, code: undefined };
      } catch (err) {
        return { ms: Date.now() - joining, code: ConnectError.from(err).code };
      }
    })();
    // A third server joins: the group rebalances, and A stops serving while it does.
    await start("c");
    const { ms, code } = await ended;
    abort.abort();
    console.log(`cluster-subscribe: the stream at A ended ${ms} ms after C began to start`);
    expect([Code.Unavailable, Code.FailedPrecondition]).toContain(code);
    // Far below the two-minute heartbeat, the only other end of a quiet stream.
    expect(ms).toBeLessThan(HEARTBEAT_MS / 2);
  }, 240_000);
});
