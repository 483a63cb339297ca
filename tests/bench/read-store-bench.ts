/**
 * `node tests/bench/read-store-bench.ts [BASE_TREE|-] [rounds] [rows]`: the read rows of
 * `npm run bench:pg` in one process, without HTTP: the store's read and the answer's
 * encoding (`encodeOutput`), CPU per call. The data is the bench's (2,200 users joined
 * one second apart, 200 teams, users 1–200 each a member of 10 teams), every row read
 * once before it is measured, so the node and edge caches hold what the calls read, as
 * in the server under load. With BASE_TREE (another checkout, e.g. a worktree of `main`)
 * the same runs against that tree's code too, in the same process, rounds alternating
 * which goes first; prints per row the median (lowest) µs per call of each side. A
 * measurement, not a test: it shows what a change to the read path costs before the
 * HTTP/2 path and the load generator's noise are added.
 */

import { join, resolve } from "node:path";
import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import type * as Api from "../../generated/entdb/v1/entdb_pb.js";

const [
  baseArg = "-",
  roundsArg = "7",
  rowsArg = "query-50,edges-out,edges-in,get-100,get-100-member",
] = process.argv.slice(2);
const rounds = Number(roundsArg);
const here = resolve(import.meta.dirname, "..", "..");
const trees =
  baseArg === "-"
    ? [["this", here]]
    : [
        ["base", resolve(baseArg)],
        ["this", here],
      ];

const USERS = 2_200;
const TEAMS = 200;
const T0 = Date.UTC(2026, 0, 1);

interface Side {
  readonly name: string;
  readonly rows: Map<string, () => void>;
}

async function sideOf(name: string, tree: string): Promise<Side> {
  const load = (path: string) => import(join(tree, path));
  const { openHarness } = await load("tests/apply/apply-harness.ts");
  const { op, T, v } = await load("tests/store/store-fixtures.ts");
  const {
    Direction,
    FilterOp,
    FilterSchema,
    GetNodeResponseSchema,
    GetNodesResponseSchema,
    ListEdgesResponseSchema,
    QueryNodesResponseSchema,
  } = (await load("generated/entdb/v1/entdb_pb.js")) as typeof Api;
  const { encodeOutput } = (await load("server/api/output-encoding.ts")) as {
    encodeOutput: (desc: DescMessage, message: Message) => Uint8Array;
  };
  const h = openHarness({ inMemory: false });
  const users: string[] = [];
  const teams: string[] = [];
  const ops = [];
  for (let i = 0; i < TEAMS; i++) {
    teams.push(`team${i}`);
    ops.push(op.createNode(T.Team, `team${i}`, { 1: v.str(`Team ${i}`), 2: v.str(`team-${i}`) }));
  }
  for (let i = 0; i < USERS; i++) {
    users.push(`user${i}`);
    ops.push(
      op.createNode(T.User, `user${i}`, {
        1: v.str(`user${i}@example.com`),
        2: v.str(`User ${i}`),
        3: v.str(`user${i}`),
        6: v.ts(T0 + i * 1_000),
        7: v.bool(true),
      }),
    );
  }
  for (let u = 0; u < TEAMS; u++) {
    for (let k = 0; k < 10; k++) {
      ops.push(
        op.createEdge(T.MemberOf, users[u] as string, teams[(u + k * 17) % TEAMS] as string, {
          1: v.enum(1),
          2: v.ts(T0),
        }),
      );
    }
  }
  for (let i = 0; i < ops.length; i += 500) {
    const { outcome } = h.plan("bench", `seed${i}`, ops.slice(i, i + 500));
    if (outcome?.failure) throw new Error(`seeding failed: ${JSON.stringify(outcome.failure)}`);
  }
  const reader = h.reader;
  let n = 0;
  const rand = (k: number) => {
    n = (n * 1_103_515_245 + 12_345) % 2_147_483_648;
    return n % k;
  };
  const rows = new Map<string, () => void>();
  rows.set("get", () => {
    const node = reader.getNode("bench", T.User, users[rand(USERS)] as string);
    if (node === undefined) throw new Error("get");
    encodeOutput(GetNodeResponseSchema, create(GetNodeResponseSchema, { node }));
  });
  rows.set("query-50", () => {
    const from = T0 + rand(USERS - 50) * 1_000;
    const filter = create(FilterSchema, { fieldId: 6, op: FilterOp.GTE, values: [v.ts(from)] });
    const page = reader.queryNodes("bench", T.User, {
      filters: [filter],
      orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 6, descending: false },
      limit: 50,
      cursor: "",
    });
    if (page.items.length !== 50 || page.nextCursor === "") throw new Error("query-50");
    encodeOutput(
      QueryNodesResponseSchema,
      create(QueryNodesResponseSchema, { nodes: page.items, nextCursor: page.nextCursor }),
    );
  });
  for (const inbound of [false, true]) {
    rows.set(inbound ? "edges-in" : "edges-out", () => {
      const node = inbound ? teams[rand(TEAMS)] : users[rand(TEAMS)];
      const page = reader.listEdges("bench", T.MemberOf, node as string, {
        direction: inbound ? Direction.IN : Direction.OUT,
        limit: 10,
        cursor: "",
        includeCount: false,
      });
      if (page.items.length !== 10) throw new Error(`${node}: ${page.items.length} edges`);
      encodeOutput(
        ListEdgesResponseSchema,
        create(ListEdgesResponseSchema, { edges: page.items, nextCursor: page.nextCursor }),
      );
    });
  }
  // A member of the tenant (not an admin): the tracker has no private type, so with no
  // deny it reads every node, as the unrestricted bench reader does.
  const member = {
    unrestricted: false,
    actor: "user:member",
    principals: ["user:member", "tenant:*"],
    atMicros: BigInt(T0) * 1_000n,
  } as const;
  for (const [row, scope] of [
    ["get-100", undefined],
    ["get-100-member", member],
  ] as const) {
    rows.set(row, () => {
      const ids = Array.from({ length: 100 }, () => users[rand(USERS)] as string);
      const nodes = reader.getNodes("bench", T.User, ids, scope);
      if (nodes.length === 0) throw new Error(row);
      encodeOutput(GetNodesResponseSchema, create(GetNodesResponseSchema, { nodes }));
    });
  }
  // Every row once over its whole range, so the caches hold what the runs read.
  for (let i = 0; i < 3_000; i++) for (const run of rows.values()) run();
  return { name, rows };
}

const sides: Side[] = [];
for (const [name, tree] of trees) sides.push(await sideOf(name as string, tree as string));

const CALLS_PER_ROUND: Record<string, number> = {
  get: 40_000,
  "query-50": 4_000,
  "edges-out": 10_000,
  "edges-in": 10_000,
  "get-100": 1_500,
  "get-100-member": 1_000,
};
const CALLS = Object.fromEntries(
  rowsArg.split(",").map((row) => [row, CALLS_PER_ROUND[row] ?? 1_000]),
);
const times = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? sides : [...sides].reverse();
  for (const row of Object.keys(CALLS)) {
    for (const side of order) {
      const run = side.rows.get(row) as () => void;
      const calls = CALLS[row] as number;
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i++) run();
      const used = process.cpuUsage(before);
      const key = `${row}\0${side.name}`;
      const list = times.get(key) ?? [];
      list.push((used.user + used.system) / calls);
      times.set(key, list);
    }
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const cell = (xs: readonly number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)})`;
console.log(`| row | ${sides.map((s) => `${s.name} µs/call`).join(" | ")} |`);
console.log(`|---|${sides.map(() => "---:").join("|")}|`);
for (const row of Object.keys(CALLS)) {
  console.log(
    `| ${row} | ${sides.map((s) => cell(times.get(`${row}\0${s.name}`) ?? [])).join(" | ")} |`,
  );
}
process.exit(0);
