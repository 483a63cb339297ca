/**
 * Bad requests against a real `entdb serve` (DESIGN.md contract 10): each gets the
 * right Connect code and a message saying what to fix, and changes nothing, which a
 * count afterwards shows.
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  connectError,
  countNodes,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  teamOp,
} from "./e2e-helpers.ts";

const USER = 1;
const TEAM = 2;
const TASK = 4;

const server = serverPerFile();
let api: EntDbClient;

beforeAll(() => {
  api = entDbClient(server, { httpVersion: "1.1", binary: true });
});

/** A valid Team create step. */
const team = (slug: string) => teamOp(slug, slug);

/** Seeds one team so "changes nothing" is checked against a non-empty tenant. */
async function seeded(tenant: string): Promise<void> {
  await api.executePlan({ tenant, operations: [team("seed")] });
  expect(await countNodes(api, tenant)).toBe(1);
}

/** The tenant database files in the data dir. */
function tenantFiles(): string[] {
  const dir = join(server.dataDir, "tenants");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Posts a raw body to a Connect unary endpoint. */
async function post(path: string, contentType: string, body: string) {
  const res = await fetch(`${server.url}/entdb.v1.EntDbService/${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1" },
    body,
  });
  return { status: res.status, body: (await res.json()) as { code: string; message: string } };
}

describe("malformed bodies", () => {
  it("rejects malformed JSON with invalid_argument", async () => {
    await seeded("bad-json");
    const res = await post(
      "ExecutePlan",
      "application/json",
      '{"tenant": "bad-json", "operations": [',
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toMatch(/json/i);
    expect(await countNodes(api, "bad-json")).toBe(1);
  });

  it("rejects a malformed protobuf body with invalid_argument naming the expected message", async () => {
    await seeded("bad-proto");
    for (const bytes of [
      [0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34, 0x0a, 0x99],
      [0x0a, 0x05, 0x61],
    ]) {
      const res = await fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
        method: "POST",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
        body: new Uint8Array(bytes),
      });
      const body = (await res.json()) as { code: string; message: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toMatch(
        /^The request body is not a valid entdb\.v1\.ExecutePlanRequest \(.+\); send a serialized entdb\.v1\.ExecutePlanRequest\.$/,
      );
    }
    expect(await countNodes(api, "bad-proto")).toBe(1);
  });

  it("rejects a malformed protobuf message over gRPC with INVALID_ARGUMENT", async () => {
    const { connect } = await import("node:http2");
    const session = connect(server.url);
    try {
      const status = await new Promise<{ code: string | undefined; message: string | undefined }>(
        (resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/entdb.v1.EntDbService/ExecutePlan",
            "content-type": "application/grpc+proto",
            te: "trailers",
          });
          const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
          const frame = Buffer.alloc(5);
          frame.writeUInt32BE(garbage.length, 1);
          let headers: Record<string, unknown> = {};
          stream.on("response", (h) => {
            headers = h;
          });
          stream.on("trailers", (t) => {
            headers = { ...headers, ...t };
          });
          stream.on("data", () => {});
          stream.on("end", () =>
            resolve({
              code: headers["grpc-status"] as string | undefined,
              message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
            }),
          );
          stream.on("error", reject);
          stream.end(Buffer.concat([frame, garbage]));
        },
      );
      expect(status.code).toBe(String(Code.InvalidArgument));
      expect(status.message).toMatch(
        /^The request body is not a valid entdb\.v1\.ExecutePlanRequest/,
      );
    } finally {
      session.close();
    }
  });

  it("accepts well-formed JSON (the JSON codec works at all)", async () => {
    const operations = [
      {
        createNode: {
          typeId: TEAM,
          fields: { "1": { stringValue: "J" }, "2": { stringValue: "j" } },
        },
      },
    ];
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant: "good-json", operations }),
    });
    expect(res.status).toBe(200);
    expect(await countNodes(api, "good-json")).toBe(1);
  });
});

describe("plans that do not fit the schema", () => {
  const cases: readonly [string, OperationInitLike[], RegExp][] = [
    [
      "an unknown type id",
      [{ op: { case: "createNode", value: { typeId: 77, fields: {} } } }],
      /^\[invalid_argument\] Operation 1 names node type id 77, which the schema does not define\.$/,
    ],
    [
      "an unknown field id",
      [
        {
          op: {
            case: "createNode",
            value: { typeId: TEAM, fields: { 1: str("a"), 2: str("a"), 9: str("x") } },
          },
        },
      ],
      /^\[invalid_argument\] Team has no field with id 9\.$/,
    ],
    [
      "a wrong value kind",
      [
        {
          op: {
            case: "createNode",
            value: {
              typeId: TEAM,
              fields: { 1: { kind: { case: "intValue", value: 5n } }, 2: str("a") },
            },
          },
        },
      ],
      /^\[invalid_argument\] Field Team\.name expects a string, got an int\.$/,
    ],
    [
      "a missing required field",
      [{ op: { case: "createNode", value: { typeId: TEAM, fields: { 1: str("a") } } } }],
      /^\[invalid_argument\] Field Team\.slug \(id 2\) is required; set it\.$/,
    ],
    [
      "a bad enum number",
      [
        {
          op: {
            case: "createNode",
            value: {
              typeId: TASK,
              fields: {
                1: { kind: { case: "refValue", value: "0190a0a0-0000-7000-8000-000000000001" } },
                2: { kind: { case: "intValue", value: 1n } },
                3: str("t"),
                5: { kind: { case: "enumValue", value: 9 } },
              },
            },
          },
        },
      ],
      /^\[invalid_argument\] Field Task\.status got enum number 9, which TaskStatus does not define; allowed: 1 \(todo\), 2 \(in_progress\), 3 \(in_review\), 4 \(done\), 5 \(wont_do\)\.$/,
    ],
  ];
  type OperationInitLike = Parameters<typeof api.executePlan>[0]["operations"] extends
    | (infer O)[]
    | undefined
    ? O
    : never;

  it.each(cases)("rejects a plan with %s and writes none of it", async (name, ops, message) => {
    const tenant = `schema-${name.replace(/ /g, "-")}`;
    await seeded(tenant);
    // A valid step first: the plan is all or nothing.
    const err = await connectError(api.executePlan({ tenant, operations: [team("ok"), ...ops] }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toMatch(message);
    expect(await countNodes(api, tenant)).toBe(1);
  });

  it("rejects a plan of 1001 operations, naming the limit", async () => {
    await seeded("too-many-ops");
    const operations = Array.from({ length: 1001 }, (_, i) => team(`t${i}`));
    const err = await connectError(api.executePlan({ tenant: "too-many-ops", operations }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(
      "The plan has 1001 operations; the limit is 1000. Split it into several plans.",
    );
    expect(await countNodes(api, "too-many-ops")).toBe(1);
  });
});

describe("read limits", () => {
  it("rejects GetNodes with 1001 ids, naming the limit", async () => {
    const ids = Array.from({ length: 1001 }, () => "0190a0a0-0000-7000-8000-000000000001");
    const err = await connectError(api.getNodes({ tenant: "get-many", typeId: USER, ids }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("GetNodes asks for 1001 ids; the limit is 1000.");
  });

  it("clamps a page limit above the maximum to 1000 instead of failing", async () => {
    const tenant = "clamp";
    await api.executePlan({
      tenant,
      operations: Array.from({ length: 1000 }, (_, i) => team(`a${i}`)),
    });
    await api.executePlan({ tenant, operations: [team("last")] });
    const page = await api.queryNodes({ tenant, typeId: TEAM, limit: 5000 });
    expect(page.nodes).toHaveLength(1000);
    expect(page.nextCursor).not.toBe("");
    const rest = await api.queryNodes({
      tenant,
      typeId: TEAM,
      limit: 5000,
      cursor: page.nextCursor,
    });
    expect(rest.nodes).toHaveLength(1);
    expect(rest.nextCursor).toBe("");
  }, 30_000);
});

describe("hostile tenant ids", () => {
  const hostile: readonly [string, string][] = [
    ["a path traversal", "../x"],
    ["an empty id", ""],
    ["10k characters", "t".repeat(10_000)],
    ["a NUL byte", "tenant\u0000x"],
    ["fullwidth letters", "ｔｅｎａｎｔ"],
    ["a Cyrillic a", "\u0430cme"],
  ];

  it.each(hostile)(
    "rejects %s with invalid_argument and creates no file",
    async (_name, tenant) => {
      const before = tenantFiles();
      const escapeBefore = existsSync(join(server.dataDir, "..", "x"));
      const write = await connectError(api.executePlan({ tenant, operations: [team("x")] }));
      expect(write.code).toBe(Code.InvalidArgument);
      expect(write.rawMessage).toMatch(/tenant/i);
      const read = await connectError(api.queryNodes({ tenant, typeId: TEAM }));
      expect(read.code).toBe(Code.InvalidArgument);
      expect(tenantFiles()).toEqual(before);
      expect(existsSync(join(server.dataDir, "x"))).toBe(false);
      expect(existsSync(join(server.dataDir, "..", "x"))).toBe(escapeBefore);
    },
  );
});

describe("typed services", () => {
  /** Calls `acme.tracker.TeamService/Create` with Connect JSON and the given tenant header. */
  async function typedCreate(tenant: string | undefined, body: unknown) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (tenant !== undefined) headers["entdb-tenant"] = tenant;
    const res = await fetch(`${server.url}/acme.tracker.TeamService/Create`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
  }

  it("rejects a hostile entdb-tenant header and creates no tenant file", async () => {
    const before = tenantFiles();
    const res = await typedCreate("../typed-escape", { fields: { name: "X", slug: "x" } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toMatch(/tenant/i);
    expect(tenantFiles()).toEqual(before);
    expect(existsSync(join(server.dataDir, "..", "typed-escape"))).toBe(false);
  });

  it("rejects a typed create missing a required field, naming it", async () => {
    await seeded("typed-required");
    const res = await typedCreate("typed-required", { fields: { name: "X" } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: "invalid_argument",
      message: "Field Team.slug (id 2) is required; set it.",
    });
    expect(await countNodes(api, "typed-required")).toBe(1);
  });
});

describe("read arguments", () => {
  it("rejects ListEdges without a direction, saying which to set", async () => {
    const err = await connectError(
      api.listEdges({
        tenant: "reads",
        edgeTypeId: 101,
        nodeId: "0190a0a0-0000-7000-8000-000000000001",
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(
      "Set `direction` to DIRECTION_OUT (edges from the node) or DIRECTION_IN (edges to it).",
    );
  });

  it("rejects an unknown edge type and a traversal deeper than the limit", async () => {
    const edge = await connectError(
      api.listEdges({ tenant: "reads", edgeTypeId: 999, nodeId: "x", direction: 1 }),
    );
    expect(edge.code).toBe(Code.InvalidArgument);
    expect(edge.rawMessage).toBe("The schema has no edge type with id 999.");
    const deep = await connectError(
      api.traverse({
        tenant: "reads",
        startId: "0190a0a0-0000-7000-8000-000000000001",
        maxDepth: 7,
      }),
    );
    expect(deep.code).toBe(Code.InvalidArgument);
    expect(deep.rawMessage).toBe("max_depth 7 exceeds the limit of 6.");
    const start = "0190a0a0-0000-7000-8000-000000000001";
    const hop = { edgeTypeIds: [], direction: 1 };
    const tooManyHops = await connectError(
      api.traverse({ tenant: "reads", startId: start, hops: Array.from({ length: 7 }, () => hop) }),
    );
    expect(tooManyHops.code).toBe(Code.InvalidArgument);
    expect(tooManyHops.rawMessage).toBe("7 hops exceeds the limit of 6.");
    const both = await connectError(
      api.traverse({ tenant: "reads", startId: start, hops: [hop], maxDepth: 2 }),
    );
    expect(both.code).toBe(Code.InvalidArgument);
    expect(both.rawMessage).toBe(
      "Set either hops (a rule per depth) or edge_type_ids, direction and max_depth (one rule for every depth), not both.",
    );
    const unknown = await connectError(
      api.traverse({ tenant: "reads", startId: start, hops: [{ edgeTypeIds: [999] }] }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toBe("The schema has no edge type with id 999.");
  });

  it("rejects a read of an unknown node type and answers a missing node with not_found", async () => {
    const type = await connectError(api.getNode({ tenant: "reads", typeId: 55, id: "x" }));
    expect(type.code).toBe(Code.InvalidArgument);
    expect(type.rawMessage).toBe("The schema has no node type with id 55.");
    const missing = await connectError(
      api.getNode({ tenant: "reads", typeId: TEAM, id: "0190a0a0-0000-7000-8000-000000000001" }),
    );
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toBe("Team '0190a0a0-0000-7000-8000-000000000001' does not exist.");
  });
});

describe("request size", () => {
  it("rejects a body over the server's 8 MiB read limit and logs nothing", async () => {
    await seeded("huge");
    const big = "x".repeat(9 * 1024 * 1024);
    const err = await connectError(
      api.executePlan({
        tenant: "huge",
        operations: [
          {
            op: {
              case: "createNode",
              value: { typeId: TEAM, fields: { 1: str(big), 2: str("huge") } },
            },
          },
        ],
      }),
    );
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(/8388608|limit|max/i);
    expect(await countNodes(api, "huge")).toBe(1);
  }, 30_000);
});

describe("log positions", () => {
  it("rejects an after_position that cannot exist at once, saying what is wrong", async () => {
    const tenant = "positions";
    const { receipt } = await api.executePlan({ tenant, operations: [team("p")] });
    const at = receipt?.position;
    if (!at) throw new Error("the write has no receipt position");
    const other = (at.partition + 1) % 8;
    const cases: readonly [{ partition: number; offset: bigint }, string][] = [
      [
        { partition: 999, offset: at.offset },
        `\`after_position\` names partition 999, but the log has 8 partitions (0 to 7); pass the position of a receipt of tenant '${tenant}'.`,
      ],
      [
        { partition: other, offset: at.offset },
        `\`after_position\` names partition ${other}, but tenant '${tenant}' is logged in partition ${at.partition}; pass the position of a receipt of this tenant.`,
      ],
      [
        { partition: at.partition, offset: -1n },
        "`after_position` names offset -1, which no log has; pass the position of a receipt.",
      ],
      [
        { partition: at.partition, offset: at.offset + 1000n },
        `\`after_position\` names offset ${at.offset + 1000n} of partition ${at.partition}, but the log ends at offset ${at.offset + 1n}; pass the position of a receipt.`,
      ],
    ];
    for (const [afterPosition, message] of cases) {
      const started = performance.now();
      const err = await connectError(
        api.queryNodes({ tenant, typeId: TEAM, afterPosition: { ...afterPosition } }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe(message);
      // At once, not after the 10 s wait for the applier.
      expect(performance.now() - started).toBeLessThan(2_000);
    }
    const ok = await api.queryNodes({ tenant, typeId: TEAM, afterPosition: at });
    expect(ok.nodes).toHaveLength(1);
  });
});

/** Posts raw bytes to a unary endpoint with the Connect protocol and reads the JSON answer. */
async function postRaw(
  path: string,
  body: Uint8Array<ArrayBuffer> | string,
  headers: Record<string, string>,
) {
  const res = await fetch(`${server.url}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

describe("page limits", () => {
  // The typed services' `limit` is an int32 (the untyped API's a uint32, which cannot be
  // negative): a negative one was read as the default page, or in a search as a page
  // size of -1.
  it("refuses a negative limit on every typed page read, naming it", async () => {
    const tenant = "limits";
    await seeded(tenant);
    const message = (limit: number) =>
      `\`limit\` is ${limit}; set 0 (or leave it out) for a page of 100, or a positive number (more than 1000 gives 1000 and a cursor).`;
    const calls: [string, object][] = [
      ["acme.tracker.TeamService/Query", { limit: -1 }],
      ["acme.tracker.TeamService/Search", { query: "seed", limit: -2 }],
      ["acme.tracker.MemberOfService/List", { fromId: "x", limit: -3 }],
      ["acme.tracker.MemberOfService/ListInverse", { toId: "x", limit: -4 }],
    ];
    const answers = [];
    for (const [path, body] of calls) {
      answers.push(await postRaw(path, JSON.stringify(body), { "entdb-tenant": tenant }));
    }
    expect(answers).toEqual(
      [-1, -2, -3, -4].map((limit) => ({
        status: 400,
        body: expect.objectContaining({ code: "invalid_argument", message: message(limit) }),
      })),
    );
    // 0 is the default page, not a refusal.
    const page = await postRaw("acme.tracker.TeamService/Query", JSON.stringify({ limit: 0 }), {
      "entdb-tenant": tenant,
    });
    expect(page.status).toBe(200);
  });
});

describe("typed reads", () => {
  it("rejects a filter value of another kind than the field, naming the field", async () => {
    const res = await postRaw(
      "acme.tracker.TaskService/Query",
      JSON.stringify({
        where: [{ field: "number", op: "FILTER_OP_EQ", values: [{ floatValue: 1.5 }] }],
      }),
      { "entdb-tenant": "typed-filter" },
    );
    expect(res).toMatchObject({
      status: 400,
      body: {
        code: "invalid_argument",
        message: "The filter on Task.number (an int field) has a floatValue; set intValue.",
      },
    });
    const onEnum = await postRaw(
      "acme.tracker.TaskService/Query",
      JSON.stringify({
        where: [{ field: "status", op: "FILTER_OP_EQ", values: [{ intValue: "1" }] }],
      }),
      { "entdb-tenant": "typed-filter" },
    );
    expect(onEnum).toMatchObject({
      status: 400,
      body: {
        code: "invalid_argument",
        message: "The filter on Task.status (an enum field) has an intValue; set enumValue.",
      },
    });
  });

  it("rejects a negative typed after_position", async () => {
    const res = await postRaw(
      "acme.tracker.TeamService/Get",
      JSON.stringify({ id: "x", afterPosition: "-3" }),
      { "entdb-tenant": "typed-position" },
    );
    expect(res).toMatchObject({
      status: 400,
      body: {
        code: "invalid_argument",
        message:
          "`after_position` is -3; pass the position of a WriteReceipt, or 0 to read at once.",
      },
    });
  });
});

describe("JSON as strict as binary", () => {
  it("rejects an unknown field name instead of dropping it", async () => {
    await seeded("json-unknown");
    const res = await postRaw(
      "entdb.v1.EntDbService/ExecutePlan",
      JSON.stringify({ tenant: "json-unknown", operations: [], amout: "5" }),
      {},
    );
    expect(res).toEqual({
      status: 400,
      body: {
        code: "invalid_argument",
        message:
          "Field `amout` is not a field of entdb.v1.ExecutePlanRequest; its fields are: tenant, operations, idempotencyKey, noWait.",
      },
    });
    expect(await countNodes(api, "json-unknown")).toBe(1);
  });

  it("rejects an unknown enum name instead of storing the default", async () => {
    const res = await postRaw(
      "entdb.v1.EntDbService/ListEdges",
      JSON.stringify({
        tenant: "json-enum",
        edgeTypeId: 101,
        nodeId: "x",
        direction: "DIRECTION_UP",
      }),
      {},
    );
    expect(res).toEqual({
      status: 400,
      body: {
        code: "invalid_argument",
        message:
          'Field `direction` has no entdb.v1.Direction value named "DIRECTION_UP"; use one of DIRECTION_UNSPECIFIED, DIRECTION_OUT, DIRECTION_IN.',
      },
    });
  });

  it("suggests the JSON name of an enum value given by its schema name", async () => {
    const create = (priority: string) =>
      postRaw(
        "acme.tracker.TaskService/Create",
        JSON.stringify({ fields: { title: "t", priority } }),
        { "entdb-tenant": "json-enum" },
      );
    const values =
      "PRIORITY_UNSPECIFIED, PRIORITY_LOW, PRIORITY_MEDIUM, PRIORITY_HIGH, PRIORITY_URGENT";
    expect(await create("high")).toEqual({
      status: 400,
      body: {
        code: "invalid_argument",
        message: `Field \`fields.priority\` has no acme.tracker.Priority value named "high"; use one of ${values}. Did you mean "PRIORITY_HIGH"?`,
      },
    });
    // No value ends so (and UNSPECIFIED, which a write refuses, is never suggested): no hint.
    for (const wrong of ["highest", "unspecified"])
      expect((await create(wrong)).body.message).toBe(
        `Field \`fields.priority\` has no acme.tracker.Priority value named "${wrong}"; use one of ${values}.`,
      );
    expect(await countNodes(api, "json-enum", 4)).toBe(0); // Task
  });

  it("names the path of a nested unknown field", async () => {
    const res = await postRaw(
      "entdb.v1.EntDbService/ExecutePlan",
      JSON.stringify({
        tenant: "json-nested",
        operations: [{ createNode: { typeId: TEAM, fields: {} } }, { createNode: { typeID: 2 } }],
      }),
      {},
    );
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(
      /^Field `operations\[1\]\.createNode\.typeID` is not a field of entdb\.v1\.CreateNode; its fields are: typeId, alias, fields, .+\.$/,
    );
  });

  it("names the field of an unknown enum name, nested too, over Connect JSON and gRPC-Web JSON", async () => {
    const message =
      'Field `where[1].op` has no acme.tracker.FilterOp value named "FILTER_OP_NEAR"; use one of FILTER_OP_UNSPECIFIED, FILTER_OP_EQ, FILTER_OP_NE, FILTER_OP_LT, FILTER_OP_LTE, FILTER_OP_GT, FILTER_OP_GTE, FILTER_OP_IN, FILTER_OP_CONTAINS, FILTER_OP_PREFIX.';
    const query = JSON.stringify({
      where: [
        { field: "title", op: "FILTER_OP_EQ", values: [{ stringValue: "x" }] },
        { field: "title", op: "FILTER_OP_NEAR" },
      ],
    });
    const connect = await postRaw("acme.tracker.TaskService/Query", query, {
      "entdb-tenant": "json-enum",
    });
    expect(connect).toEqual({ status: 400, body: { code: "invalid_argument", message } });

    const payload = Buffer.from(query);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(payload.length, 1);
    const res = await fetch(`${server.url}/acme.tracker.TaskService/Query`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+json", "entdb-tenant": "json-enum" },
      body: Buffer.concat([frame, payload]),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const trailer = bytes.subarray(5, 5 + bytes.readUInt32BE(1)).toString("utf8");
    expect(trailer).toMatch(/^grpc-status: 3\r\n/m);
    expect(decodeURIComponent(/grpc-message: (.*)\r\n/.exec(trailer)?.[1] ?? "")).toBe(message);
  });

  it("rejects invalid UTF-8 instead of replacing it with U+FFFD", async () => {
    await seeded("json-utf8");
    const body = Buffer.concat([
      Buffer.from(
        '{"tenant": "json-utf8", "operations": [{"createNode": {"typeId": 2, "fields": {"1": {"stringValue": "bad',
      ),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}, "2": {"stringValue": "utf8"}}}}]}'),
    ]);
    const res = await postRaw("entdb.v1.EntDbService/ExecutePlan", body, {});
    expect(res).toEqual({
      status: 400,
      body: {
        code: "invalid_argument",
        message: `The JSON request body is not valid UTF-8: byte ${body.indexOf(0xc3)} (in the value of "stringValue") starts no valid UTF-8 sequence; send the body encoded as UTF-8.`,
      },
    });
    expect(await countNodes(api, "json-utf8")).toBe(1);
  });
});

describe("lone surrogates", () => {
  it("refuses a string holding a lone UTF-16 surrogate instead of storing U+FFFD", async () => {
    await seeded("json-surrogate");
    const res = await post(
      "ExecutePlan",
      "application/json",
      '{"tenant": "json-surrogate", "operations": [{"createNode": {"typeId": 2, "fields": {"1": {"stringValue": "x\\ud800y"}, "2": {"stringValue": "surrogate"}}}}]}',
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toBe(
      "cannot decode field entdb.v1.Value.string_value from JSON: expected string: invalid UTF8",
    );
    expect(await countNodes(api, "json-surrogate")).toBe(1);
    // A surrogate pair (an emoji written as two escapes) is well-formed and stored.
    const ok = await post(
      "ExecutePlan",
      "application/json",
      '{"tenant": "json-surrogate", "operations": [{"createNode": {"typeId": 2, "fields": {"1": {"stringValue": "x\\ud83d\\ude00y"}, "2": {"stringValue": "pair"}}}}]}',
    );
    expect(ok.status).toBe(200);
    expect(await countNodes(api, "json-surrogate")).toBe(2);
  });
});

describe("gRPC-Web", () => {
  it("answers a malformed protobuf body with INVALID_ARGUMENT in the trailer frame", async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(garbage.length, 1);
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: Buffer.concat([frame, garbage]),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(bytes[0]).toBe(0x80);
    const trailer = bytes.subarray(5, 5 + bytes.readUInt32BE(1)).toString("utf8");
    expect(trailer).toMatch(/^grpc-status: 3\r\n/m);
    expect(decodeURIComponent(/grpc-message: (.*)\r\n/.exec(trailer)?.[1] ?? "")).toMatch(
      /^The request body is not a valid entdb\.v1\.ExecutePlanRequest \(.+\); send a serialized entdb\.v1\.ExecutePlanRequest\.$/,
    );
    expect(res.headers.get("grpc-status")).not.toBe(String(Code.Internal));
  });
});

describe("typed writes", () => {
  it("rejects a json field holding NaN with INVALID_ARGUMENT naming the field, and writes nothing", async () => {
    const { ProjectSchema, CreateProjectRequestSchema } = await import(
      "../../examples/tracker/generated/acme/tracker/project_pb.js"
    );
    await seeded("typed-json");
    const body = toBinary(
      CreateProjectRequestSchema,
      create(CreateProjectRequestSchema, {
        fields: create(ProjectSchema, {
          team: "0190a0a0-0000-7000-8000-000000000001",
          key: "NAN",
          name: "N",
          settings: { kind: { case: "numberValue", value: Number.NaN } },
        }),
      }),
    );
    const res = await fetch(`${server.url}/acme.tracker.ProjectService/Create`, {
      method: "POST",
      headers: { "content-type": "application/proto", "entdb-tenant": "typed-json" },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(
        /^Field Project\.settings is not a JSON value \(.+\); use finite numbers\.$/,
      ),
    });
    expect(await countNodes(api, "typed-json")).toBe(1);
    expect(await countNodes(api, "typed-json", 3)).toBe(0);
  });
});
