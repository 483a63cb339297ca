/**
 * Access control's read cost as an app sees it: the same tenant (100k nodes, a reader
 * with 1,000 grants and 20 groups) served by two `entdb serve` children, one in dev mode
 * and one with tokens, read over Connect (HTTP/2, binary) with the lean client, one call
 * in flight. The data is written once through the API to the server with tokens, which
 * is then stopped, and its data dir copied for the dev-mode server: both serve the same
 * log and the same tenant file.
 *
 * The two servers are read in short alternating rounds (which goes first alternates
 * too). Each round reports the server's CPU time per call (the sum of its threads'
 * `schedstat` run time, in nanoseconds, so a round of a few ms is still measured exactly)
 * and the median latency the client saw. Used by `access-bench.ts`, which prints these
 * rows after the in-process ones.
 */

import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { createLeanClient, type LeanClient } from "./lean-connect-client.ts";

const SCHEMA = `package bench.access;

node Doc = 1 {
  title: string = 1 [required];
}

node Secret = 2 [visibility = private] {
  title: string = 1 [required];
}
`;

const TENANT = "bench";
const GRANTS = 1_000;
const GROUPS = 20;
const PLAN_OPS = 1_000;
const TOKENS = { owner: "owner-token-0123456789", me: "me-token-0123456789ab" } as const;

/** Server CPU time of `pid` so far (all its threads), in microseconds. */
function serverCpuMicros(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read: its time is gone with it.
    }
  }
  return ns / 1_000;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

/** One row: the restricted call and the dev-mode call, with the aim for their ratio. */
export interface ServeRow {
  readonly label: string;
  readonly aim: number | undefined;
  readonly restricted: (c: LeanClient) => Promise<unknown>;
  readonly open: (c: LeanClient) => Promise<unknown>;
}

/** Writes the data set to `server` (with tokens); returns a granted Secret's id and a Doc's. */
async function load(
  server: ServerProcess,
  nodes: number,
): Promise<{ granted: string; doc: string }> {
  const auth = (who: keyof typeof TOKENS) =>
    createLeanClient(server.url, { authorization: `Bearer ${TOKENS[who]}` });
  const owner = auth("owner");
  const me = auth("me");
  const { executePlan, createTenant, addTenantMember, createGroup, addGroupMember, shareNode } =
    EntDbService.method;
  await owner.call(createTenant, { tenant: TENANT, owner: "user:owner" });
  await owner.call(addTenantMember, { tenant: TENANT, principal: "user:me", role: "member" });
  for (let g = 0; g < GROUPS; g++) {
    await owner.call(createGroup, { tenant: TENANT, group: `group:g${g}` });
    await owner.call(addGroupMember, {
      tenant: TENANT,
      group: `group:g${g}`,
      principal: "user:me",
    });
  }
  // Half the nodes are Docs, half Secrets; of the Secrets, one in four is the reader's own.
  const ids: string[] = [];
  for (let start = 0; start < nodes; start += PLAN_OPS) {
    const plans = { owner: [] as number[], me: [] as number[] };
    for (let i = start; i < Math.min(start + PLAN_OPS, nodes); i++)
      (i % 8 === 1 ? plans.me : plans.owner).push(i);
    for (const [who, client] of [
      ["owner", owner],
      ["me", me],
    ] as const) {
      const res = await client.call(executePlan, {
        tenant: TENANT,
        operations: plans[who].map((i) => ({
          op: {
            case: "createNode" as const,
            value: {
              typeId: i % 2 === 0 ? 1 : 2,
              fields: { 1: { kind: { case: "stringValue" as const, value: `title ${i}` } } },
            },
          },
        })),
      });
      plans[who].forEach((i, k) => {
        ids[i] = res.results[k]?.id ?? "";
      });
    }
  }
  let granted = "";
  for (let i = 0; i < GRANTS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const n = (((i + k) * 97) % nodes) | 1; // odd: a Secret, the owner's unless n % 8 === 1
        const id = ids[n % 8 === 1 ? n + 2 : n];
        if (id === undefined) throw new Error(`no node ${n} to share`);
        if (i + k === 3) granted = id;
        return owner.call(shareNode, {
          tenant: TENANT,
          nodeId: id,
          principal: (i + k) % 2 === 0 ? "user:me" : `group:g${(i + k) % GROUPS}`,
          capability: "read",
        });
      }),
    );
  }
  owner.close();
  me.close();
  return { granted, doc: ids[0] ?? "" };
}

/**
 * Starts both servers on `nodes` nodes, runs `rounds` alternating rounds per row, and
 * prints one markdown table. Stops both servers and removes their data.
 */
export async function runServeBench(nodes: number, rounds: number): Promise<void> {
  const dir = tempDataDir("entdb-access-serve-");
  const schema = join(dir, "schema.entdb");
  writeFileSync(schema, SCHEMA);
  const tokens = [
    "--tokens",
    Object.entries(TOKENS)
      .map(([name, token]) => `${token}=user:${name}`)
      .join(","),
    "--admins",
    "user:owner",
  ];
  const dataDir = join(dir, "with-tokens");
  const devDir = join(dir, "dev");
  let servers: ServerProcess[] = [];
  try {
    const writer = await startServerProcess({ schema, dataDir, args: tokens });
    servers = [writer];
    const { granted, doc } = await load(writer, nodes);
    await writer.stop();
    cpSync(dataDir, devDir, { recursive: true });
    const secure = await startServerProcess({ schema, dataDir, args: tokens });
    servers = [secure];
    const dev = await startServerProcess({ schema, dataDir: devDir });
    servers.push(dev);
    const reader = createLeanClient(secure.url, { authorization: `Bearer ${TOKENS.me}` });
    const devReader = createLeanClient(dev.url);
    const { queryNodes, getNode } = EntDbService.method;
    const page = { tenant: TENANT, typeId: 2, limit: 50, cursor: "" };
    const point = { tenant: TENANT, typeId: 2, id: granted };
    const docPoint = { tenant: TENANT, typeId: 1, id: doc };
    const check = async () => {
      const [a, b] = await Promise.all([
        reader.call(queryNodes, page),
        devReader.call(queryNodes, page),
      ]);
      const [c, d] = await Promise.all([
        reader.call(getNode, point),
        devReader.call(getNode, point),
      ]);
      const [e, f] = await Promise.all([
        reader.call(getNode, docPoint),
        devReader.call(getNode, docPoint),
      ]);
      if (
        a.nodes.length !== 50 ||
        b.nodes.length !== 50 ||
        !c.node ||
        c.node.id !== d.node?.id ||
        !e.node ||
        e.node.id !== f.node?.id
      )
        throw new Error("the two servers do not answer what the benchmark expects");
      if (a.nodes.every((n) => b.nodes.some((m) => m.id === n.id)))
        throw new Error("the reader's page is dev mode's: access is not applied");
    };
    await check();
    const rows: ServeRow[] = [
      {
        label: "QueryNodes 50, private type",
        aim: 1.3,
        restricted: (c) => c.call(queryNodes, page),
        open: (c) => c.call(queryNodes, page),
      },
      {
        label: "GetNode, granted private node",
        aim: 1.2,
        restricted: (c) => c.call(getNode, point),
        open: (c) => c.call(getNode, point),
      },
      {
        // What the server with tokens adds to a call whatever the store does: a member
        // reads a tenant-visible node without any grant lookup.
        label: "GetNode, tenant-visible node",
        aim: undefined,
        restricted: (c) => c.call(getNode, docPoint),
        open: (c) => c.call(getNode, docPoint),
      },
    ];
    console.log(
      `\nend to end: entdb serve with tokens vs dev mode, same data; Connect over HTTP/2, binary, lean client, one call in flight; ${rounds} alternating rounds per read\n`,
    );
    console.log(
      "| read | with access: server CPU, median / fastest (µs) | dev mode: server CPU, median / fastest (µs) | CPU ratio of medians / fastest | latency p50, with access / dev mode (µs) | latency ratio | aim |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const row of rows) {
      const runs = row.label.startsWith("GetNode") ? 200 : 100;
      /** Server CPU per call and the calls' median latency over `runs` calls. */
      const round = async (server: ServerProcess, call: () => Promise<unknown>) => {
        const pid = server.child.pid!;
        const lat: number[] = [];
        const start = serverCpuMicros(pid);
        for (let i = 0; i < runs; i++) {
          const t = process.hrtime.bigint();
          await call();
          lat.push(Number(process.hrtime.bigint() - t) / 1_000);
        }
        return { cpu: (serverCpuMicros(pid) - start) / runs, latency: median(lat) };
      };
      const a = () => round(secure, () => row.restricted(reader));
      const b = () => round(dev, () => row.open(devReader));
      await a();
      await b();
      const as: { cpu: number; latency: number }[] = [];
      const bs: { cpu: number; latency: number }[] = [];
      for (let r = 0; r < rounds; r++) {
        if (r % 2 === 0) {
          bs.push(await b());
          as.push(await a());
        } else {
          as.push(await a());
          bs.push(await b());
        }
      }
      const cpuA = as.map((x) => x.cpu);
      const cpuB = bs.map((x) => x.cpu);
      const [ma, mb] = [median(cpuA), median(cpuB)];
      const [fa, fb] = [Math.min(...cpuA), Math.min(...cpuB)];
      const [la, lb] = [median(as.map((x) => x.latency)), median(bs.map((x) => x.latency))];
      const us = (x: number) => x.toFixed(0);
      const ratio = (x: number) => `${x.toFixed(2)}×`;
      console.log(
        `| ${row.label} | ${us(ma)} / ${us(fa)} | ${us(mb)} / ${us(fb)} | ${ratio(ma / mb)} / ${ratio(fa / fb)} | ${us(la)} / ${us(lb)} | ${ratio(la / lb)} | ${row.aim === undefined ? "none" : `≤ ${row.aim}×`} |`,
      );
    }
    reader.close();
    devReader.close();
  } finally {
    for (const s of servers) await s.stop();
    removeDataDir(dir);
  }
}
