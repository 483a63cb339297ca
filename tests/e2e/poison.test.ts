/**
 * DESIGN.md contract 11 against a real `entdb serve`: ingress refuses whatever the
 * store cannot take. Every limit of `docs/durability.md` is tried at and just past its
 * value: at the limit the write succeeds; past it the call fails with INVALID_ARGUMENT
 * naming the field and the limit, nothing is logged (the next write of the tenant gets
 * the very next log offset), and normal writes of the tenant keep working. A `json`
 * value at the depth limit is read back through every transport of the typed client.
 * An event that slipped past ingress (appended to the log directly) and fails in the
 * applier becomes its recorded INTERNAL outcome and its tenant goes on. A fault of the
 * environment still parks its tenant, loudly: the error log, the `entdb_parked_tenants`
 * gauge and `/ready`.
 */

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { createNodeTransport } from "../../runtime/node.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { op, planEvent, v } from "../store/store-fixtures.ts";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  TRACKER,
  teamOp,
} from "./e2e-helpers.ts";
import { removeDataDir, startServerProcess } from "./server-process.ts";
import { type GeneratedTrackerClient, loadTrackerClient } from "./tracker-client.ts";

const PROJECT = 3;
const TASK = 4;

const server = serverPerFile();
let api: EntDbClient;
let generated: GeneratedTrackerClient;

beforeAll(async () => {
  api = entDbClient(server, { httpVersion: "1.1", binary: true });
  generated = await loadTrackerClient();
});

afterAll(() => {
  generated?.dispose();
});

type Op = ReturnType<typeof teamOp> | { op: { case: "createNode"; value: object } };

const json = (value: string) => ({ kind: { case: "jsonValue" as const, value } });
const bytes = (n: number) => ({
  kind: { case: "bytesValue" as const, value: new Uint8Array(n).fill(7) },
});
const list = (n: number) => ({
  kind: {
    case: "listValue" as const,
    value: { values: Array.from({ length: n }, () => str("a")) },
  },
});
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

let serial = 0;
/** A Team create with a unique slug. */
const team = (name = "T") => teamOp(name, `team-${++serial}`);

/** A User create with unique keys and `extra` fields. */
function user(extra: Record<number, unknown> = {}): Op {
  const n = ++serial;
  return {
    op: {
      case: "createNode",
      value: {
        typeId: TRACKER.user,
        fields: {
          [TRACKER.userEmail]: str(`u${n}@example.com`),
          [TRACKER.userDisplayName]: str(`User ${n}`),
          [TRACKER.userHandle]: str(`u${n}`),
          [TRACKER.userJoinedAt]: {
            kind: { case: "timestampValue" as const, value: { seconds: 1_700_000_000n, nanos: 0 } },
          },
          ...extra,
        },
      },
    },
  };
}

/** A Team (alias `t`) and a Project in it with `settings`. */
function project(settings: string): Op[] {
  const n = ++serial;
  return [
    {
      op: {
        case: "createNode",
        value: {
          typeId: TRACKER.team,
          alias: "t",
          fields: { [TRACKER.teamName]: str("T"), [TRACKER.teamSlug]: str(`pt-${n}`) },
        },
      },
    },
    {
      op: {
        case: "createNode",
        value: {
          typeId: PROJECT,
          alias: "p",
          fields: {
            1: { kind: { case: "refValue", value: "$t" } },
            2: str(`K${n}`),
            3: str("P"),
            5: json(settings),
          },
        },
      },
    },
  ];
}

/** A Team, a Project and a Task in it with `labels` elements. */
function task(labels: number): Op[] {
  return [
    ...project("{}"),
    {
      op: {
        case: "createNode",
        value: {
          typeId: TASK,
          fields: {
            1: { kind: { case: "refValue", value: "$p" } },
            2: { kind: { case: "intValue", value: 1n } },
            3: str("Task"),
            9: list(labels),
          },
        },
      },
    },
  ];
}

/** Writes one Team to `tenant` and returns the log position of the write. */
async function write(tenant: string) {
  const res = await api.executePlan({ tenant, operations: [team()] });
  expect(res.receipt?.applied).toBe(true);
  return res.receipt!.position!;
}

/**
 * Expects `operations` to be refused with INVALID_ARGUMENT and `message`, with nothing
 * logged: the tenant's next write lands at the offset right after the one before.
 */
async function refused(
  tenant: string,
  operations: Op[],
  message: string,
  site: { operationIndex?: number; typeId?: number; fieldId?: number } = {},
  idempotencyKey = "",
) {
  const before = await write(tenant);
  const err = await connectError(api.executePlan({ tenant, operations, idempotencyKey }));
  expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
  if (site.fieldId !== undefined) {
    expect(err.findDetails(WriteFailureSchema)[0]).toMatchObject(site);
  }
  const after = await write(tenant);
  expect(after.partition).toBe(before.partition);
  expect(after.offset).toBe(before.offset + 1n);
}

/** Expects `operations` to be applied. */
async function accepted(tenant: string, operations: Op[], idempotencyKey = "") {
  const res = await api.executePlan({ tenant, operations, idempotencyKey });
  expect(res.receipt?.applied).toBe(true);
  expect(res.results.length).toBe(operations.length);
  return res;
}

describe("ingress limits", () => {
  it("takes a string of 65,536 UTF-8 bytes and refuses one byte more", async () => {
    const tenant = "poison-string";
    await accepted(tenant, [team("x".repeat(65_536))]);
    await accepted(tenant, [team("é".repeat(32_768))]);
    await refused(
      tenant,
      [team(), team("x".repeat(65_537))],
      "Field Team.name (operation 1) holds 65537 UTF-8 bytes; the limit is 65536.",
      { operationIndex: 1, typeId: TRACKER.team, fieldId: TRACKER.teamName },
    );
    await refused(
      tenant,
      [team(`${"é".repeat(32_768)}a`)],
      "Field Team.name (operation 0) holds 65537 UTF-8 bytes; the limit is 65536.",
      { operationIndex: 0, typeId: TRACKER.team, fieldId: TRACKER.teamName },
    );
  });

  it("takes bytes of 262,144 and refuses one more", async () => {
    const tenant = "poison-bytes";
    await accepted(tenant, [user({ 5: bytes(262_144) })]);
    await refused(
      tenant,
      [user({ 5: bytes(262_145) })],
      "Field User.avatar (operation 0) holds 262145 bytes; the limit is 262144.",
      { operationIndex: 0, typeId: TRACKER.user, fieldId: 5 },
    );
  });

  it("takes JSON nested 32 deep and refuses 33 and the 1,000 that stopped a tenant", async () => {
    const tenant = "poison-json-depth";
    await accepted(tenant, project(nested(32)));
    await accepted(tenant, project(`{"a":${nested(31)}}`));
    const message =
      "Field Project.settings (operation 1) nests JSON arrays and objects more than 32 deep; the limit is 32. Flatten the value.";
    const site = { operationIndex: 1, typeId: PROJECT, fieldId: 5 };
    await refused(tenant, project(nested(33)), message, site);
    await refused(tenant, project(`{"a":${nested(32)}}`), message, site);
    await refused(tenant, project(nested(1000)), message, site);
    // Brackets inside strings are text, not nesting.
    await accepted(tenant, project(JSON.stringify("[".repeat(100))));
  });

  it("takes JSON text of 262,144 bytes and refuses one more", async () => {
    const tenant = "poison-json-size";
    // A JSON string: two quotes around the rest.
    await accepted(tenant, project(JSON.stringify("x".repeat(262_142))));
    await refused(
      tenant,
      project(JSON.stringify("x".repeat(262_143))),
      "Field Project.settings (operation 1) holds 262145 UTF-8 bytes of JSON text; the limit is 262144.",
      { operationIndex: 1, typeId: PROJECT, fieldId: 5 },
    );
  });

  it("takes a list of 10,000 elements and refuses one more", async () => {
    const tenant = "poison-list";
    await accepted(tenant, task(10_000));
    await refused(
      tenant,
      task(10_001),
      "Field Task.labels (operation 2) holds 10001 elements; the limit is 10000.",
      { operationIndex: 2, typeId: TASK, fieldId: 9 },
    );
  });

  it("takes a plan of 1,000 operations and refuses one more", async () => {
    const tenant = "poison-ops";
    await accepted(
      tenant,
      Array.from({ length: 1_000 }, () => team()),
    );
    await refused(
      tenant,
      Array.from({ length: 1_001 }, () => team()),
      "The plan has 1001 operations; the limit is 1000. Split it into several plans.",
    );
  });

  it("takes an idempotency key of 256 characters and refuses one more", async () => {
    const tenant = "poison-key";
    await accepted(tenant, [team()], "k".repeat(256));
    await refused(
      tenant,
      [team()],
      "The idempotency key is 257 characters; the limit is 256.",
      {},
      "k".repeat(257),
    );
  });

  it("refuses a plan whose event is larger than the log takes", async () => {
    const tenant = "poison-record";
    // 15 strings at the limit: about 983 kB, under the log's 1 MiB per record.
    await accepted(
      tenant,
      Array.from({ length: 15 }, () => team("x".repeat(65_536))),
    );
    const before = await write(tenant);
    const err = await connectError(
      api.executePlan({
        tenant,
        operations: Array.from({ length: 17 }, () => team("x".repeat(65_536))),
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(
      /^The write is 11\d{5} bytes as logged; the log takes at most 1048576 bytes per write\. Split it into smaller plans, or keep large values \(files, images\) outside EntDB and store a reference\.$/,
    );
    const after = await write(tenant);
    expect(after.offset).toBe(before.offset + 1n);
  });
});

describe("a json value at the depth limit", () => {
  const deep = nested(32);
  const expected = JSON.parse(deep) as unknown;

  it("reads back through the generic API and every transport of the typed client", async () => {
    const tenant = "poison-read";
    const res = await accepted(tenant, project(deep));
    const id = res.results[1]!.id;
    const node = await api.getNode({ tenant, typeId: PROJECT, id });
    expect(node.node?.fields[5]?.kind).toEqual({ case: "jsonValue", value: deep });

    const transports = [
      ["grpc", createNodeTransport({ baseUrl: server.url, protocol: "grpc" })],
      ["connect binary", createNodeTransport({ baseUrl: server.url, httpVersion: "2" })],
      [
        "connect JSON",
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: false }),
      ],
    ] as const;
    for (const [name, transport] of transports) {
      const db = generated.createClient({ transport, tenant, retry: false });
      const page = await db.project.query({});
      expect([name, page.items.map((p) => p["settings"])]).toEqual([name, [expected]]);
      expect([name, (await db.project.get(id))?.["settings"]]).toEqual([name, expected]);
    }
  });
});

describe("a tenant whose database cannot be opened", () => {
  it("is parked, and the park shows in the error log, the metric and /ready", async () => {
    // One open tenant database at a time: writing to "healthy" closes "broken"'s file,
    // which is then replaced while the server runs. (At start, the derived-state check
    // would set a bad file aside and rebuild the tenant instead: derived-state.test.ts.)
    const first = await startServerProcess({ env: { ENTDB_MAX_OPEN_TENANTS: "1" } });
    const dataDir = first.dataDir;
    try {
      const client = entDbClient(first, { binary: true });
      const seeded = await client.executePlan({ tenant: "broken", operations: [team()] });
      await client.executePlan({ tenant: "healthy", operations: [team()] });
      // A directory where the tenant's database file should be: SQLite cannot open it.
      const file = join(dataDir, "tenants", "t-broken.sqlite");
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      mkdirSync(file);
      writeFileSync(join(file, "keep"), "not a database");

      const second = first;
      try {
        const api2 = entDbClient(second, { binary: true });
        // The first write's own wait may open the file before the applier reaches the
        // event and parks the tenant, so it can see the open failure itself; either way
        // it is UNAVAILABLE. Once the park shows in /ready, every call gives the park.
        const firstWrite = await connectError(
          api2.executePlan({ tenant: "broken", operations: [team()] }),
        );
        expect(firstWrite.code).toBe(Code.Unavailable);
        expect(firstWrite.rawMessage).toContain(
          'The database of tenant "broken" cannot be used: unable to open database file.',
        );
        const deadline = Date.now() + 10_000;
        while ((await fetch(`http://127.0.0.1:${second.httpPort}/ready`)).status !== 503) {
          if (Date.now() > deadline) throw new Error("the tenant was never parked");
          await new Promise((r) => setTimeout(r, 20));
        }
        const err = await connectError(
          api2.executePlan({ tenant: "broken", operations: [team()] }),
        );
        expect(err.code).toBe(Code.Unavailable);
        const reason =
          /^Tenant "broken" stopped applying the log at (\d+):(\d+): The database of tenant "broken" cannot be used: unable to open database file\.$/;
        expect(err.rawMessage).toMatch(reason);
        const [, partition, offset] = reason.exec(err.rawMessage)!;

        // Every other tenant goes on.
        await api2.executePlan({ tenant: "healthy", operations: [team()] });

        const ready = await fetch(`http://127.0.0.1:${second.httpPort}/ready`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toEqual({ status: "degraded", reasons: [err.rawMessage] });

        const metrics = await (await fetch(`http://127.0.0.1:${second.httpPort}/metrics`)).text();
        expect(metrics.split("\n")).toContain("entdb_parked_tenants 1");
        expect(metrics.split("\n")).toContain("entdb_apply_failures_total 0");

        const parked = second
          .logs()
          .split("\n")
          .filter((line) => line.includes('"tenant parked'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(parked).toHaveLength(1);
        expect(parked[0]).toMatchObject({
          level: "error",
          msg: "tenant parked: it stopped applying the log",
          tenant: "broken",
          position: `${partition}:${offset}`,
          err: {
            name: "StoreError",
            message:
              'The database of tenant "broken" cannot be used: unable to open database file.',
            cause: { name: "SqliteError", message: "unable to open database file" },
          },
        });
        expect(parked[0]?.["err"]).toMatchObject({
          stack: expect.stringMatching(/^StoreError: .*\n {4}at /),
        });

        // Once the directory is gone, a retry rebuilds the tenant from the log while the
        // server runs (its file is missing now): no restart needed.
        rmSync(file, { recursive: true });
        const healed = Date.now() + 30_000;
        while ((await fetch(`http://127.0.0.1:${second.httpPort}/ready`)).status !== 200) {
          if (Date.now() > healed)
            throw new Error(`the tenant never applied again\n${second.logs()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const seed = seeded.results[0]!.id;
        expect(
          (await api2.getNode({ tenant: "broken", typeId: TRACKER.team, id: seed })).node?.id,
        ).toBe(seed);
        await api2.executePlan({ tenant: "broken", operations: [team()] });
        const after = await (await fetch(`http://127.0.0.1:${second.httpPort}/metrics`)).text();
        expect(after.split("\n")).toContain("entdb_parked_tenants 0");
        expect(second.logs()).toContain("tenant applies the log again");
      } finally {
        await second.stop();
      }
    } finally {
      removeDataDir(dataDir);
    }
  });
});

describe("an event that fails in the applier", () => {
  it("is recorded as its INTERNAL outcome, logged with its stack and counted, and its tenant goes on", async () => {
    const first = await startServerProcess();
    const dataDir = first.dataDir;
    try {
      const client = entDbClient(first, { binary: true });
      const seed = await client.executePlan({ tenant: "logged", operations: [team()] });
      const teamId = seed.results[0]!.id;
      expect(await first.stop()).toBe(0);
      // Past ingress, straight into the server's log: a json value SQLite cannot parse.
      const wal = await openEmbeddedWal({ path: join(dataDir, "wal.sqlite"), writer: "inline" });
      const [position] = await wal.append([
        {
          tenant: "logged",
          payload: planEvent(
            "logged",
            "poison-key",
            [
              op.createNode(PROJECT, "0190a6d2-0000-7000-8000-00000000beef", {
                1: v.ref(teamId),
                2: v.str("K"),
                3: v.str("P"),
                5: v.json(nested(1000)),
              }),
            ],
            { actor: "dev" },
          ),
        },
      ]);
      await wal.close();

      const second = await startServerProcess({ dataDir });
      try {
        const api2 = entDbClient(second, { binary: true });
        const message =
          "The write was logged but changed nothing: applying operation 0 failed with SqliteError SQLITE_ERROR: malformed JSON. The server should have refused this request; report it.";
        const receipt = await api2.getReceipt({ tenant: "logged", idempotencyKey: "poison-key" });
        expect(receipt.results).toEqual([]);
        expect(receipt.failure).toMatchObject({
          code: "internal",
          reason: "APPLY_FAILED",
          message,
        });
        // A retry of the key gets the recorded failure, as INTERNAL.
        const err = await connectError(
          api2.executePlan({
            tenant: "logged",
            idempotencyKey: "poison-key",
            operations: [team()],
          }),
        );
        expect([err.code, err.rawMessage]).toEqual([Code.Internal, `${message} (operation 0)`]);
        // The tenant goes on.
        await api2.executePlan({ tenant: "logged", operations: [team()] });
        expect(
          (await api2.queryNodes({ tenant: "logged", typeId: TRACKER.team })).nodes.length,
        ).toBe(2);

        const ready = await fetch(`http://127.0.0.1:${second.httpPort}/ready`);
        expect(ready.status).toBe(200);
        const metrics = (
          await (await fetch(`http://127.0.0.1:${second.httpPort}/metrics`)).text()
        ).split("\n");
        expect(metrics).toContain("entdb_apply_failures_total 1");
        expect(metrics).toContain("entdb_parked_tenants 0");

        const logged = second
          .logs()
          .split("\n")
          .filter((line) => line.includes('"apply failed'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatchObject({
          level: "error",
          msg: "apply failed; recorded as the plan's outcome",
          tenant: "logged",
          position: `${position!.partition}:${position!.offset}`,
          idempotencyKey: "poison-key",
          err: {
            name: "PlanRejection",
            message,
            cause: {
              name: "SqliteError",
              message: "malformed JSON",
              stack: expect.stringMatching(/^SqliteError: malformed JSON\n {4}at /),
            },
          },
        });
      } finally {
        await second.stop();
      }
    } finally {
      removeDataDir(dataDir);
    }
  });
});
