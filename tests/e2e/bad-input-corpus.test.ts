/**
 * A standing corpus of malformed requests against a real `entdb serve` (DESIGN.md
 * contract 10), generated with fast-check: thousands of them over Connect (binary, both
 * the fast path and the library's, over HTTP/2 and HTTP/1.1; and JSON), gRPC and
 * gRPC-Web, to the generic service and the typed ones. Each must answer exactly
 * INVALID_ARGUMENT. Afterwards the server is up, its memory bounded, it logged no
 * error, and the log (its end offsets) and every tenant file (its canonical dump) are
 * what they were before.
 *
 * `bad-input.test.ts` holds the hand-written cases with their exact messages; this file
 * covers the space around them.
 */

import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file_acme_tracker_assigned_to } from "../../examples/tracker/generated/acme/tracker/assigned_to_pb.js";
import { file_acme_tracker_blocked_by } from "../../examples/tracker/generated/acme/tracker/blocked_by_pb.js";
import { file_acme_tracker_comment } from "../../examples/tracker/generated/acme/tracker/comment_pb.js";
import { file_acme_tracker_member_of } from "../../examples/tracker/generated/acme/tracker/member_of_pb.js";
import { file_acme_tracker_project } from "../../examples/tracker/generated/acme/tracker/project_pb.js";
import { file_acme_tracker_subtask_of } from "../../examples/tracker/generated/acme/tracker/subtask_of_pb.js";
import { file_acme_tracker_task } from "../../examples/tracker/generated/acme/tracker/task_pb.js";
import { file_acme_tracker_team } from "../../examples/tracker/generated/acme/tracker/team_pb.js";
import { file_acme_tracker_user } from "../../examples/tracker/generated/acme/tracker/user_pb.js";
import { file_acme_tracker_watches } from "../../examples/tracker/generated/acme/tracker/watches_pb.js";
import {
  EntDbService,
  FilterOp,
  FilterSchema,
  QueryNodesRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { canonicalDump } from "../../server/store/index.ts";
import { http2Exchange } from "../http2-exchange.ts";
import { type EntDbClient, entDbClient, serverPerFile, teamOp } from "./e2e-helpers.ts";

/**
 * The server's JavaScript heap is capped, so "bounded in memory" is checked twice: a leak
 * per refused request would exhaust the heap and stop the server (which must stay up),
 * and the process's resident size must stay under {@link MAX_RSS_BYTES}. Without a cap
 * V8 grows its heap for a few thousand requests before it collects, on any traffic.
 */
const HEAP_MB = 128;
const MAX_RSS_BYTES = 320 * 1024 * 1024;
const server = serverPerFile({
  env: { NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --max-old-space-size=${HEAP_MB}` },
});
const TENANTS = ["corpus-a", "corpus-b"] as const;
const TEAM = 2;
const TASK = 4;
const INVALID_ARGUMENT = 3;

let api: EntDbClient;
let session: http2.ClientHttp2Session;

/** The tracker's typed services, one per node and edge type, each in its type's file. */
const TYPED_SERVICES: readonly DescService[] = [
  file_acme_tracker_user,
  file_acme_tracker_team,
  file_acme_tracker_project,
  file_acme_tracker_task,
  file_acme_tracker_comment,
  file_acme_tracker_member_of,
  file_acme_tracker_assigned_to,
  file_acme_tracker_subtask_of,
  file_acme_tracker_blocked_by,
  file_acme_tracker_watches,
].flatMap((f) => f.services);

/** Every unary method the server serves: the generic service and the typed ones. */
const SERVICES: readonly DescService[] = [EntDbService, ...TYPED_SERVICES];
const METHODS: readonly { service: DescService; method: DescMethod }[] = SERVICES.flatMap(
  (service) =>
    service.methods.filter((m) => m.methodKind === "unary").map((method) => ({ service, method })),
);
const isTyped = (service: DescService) => service !== EntDbService;

// ---------------------------------------------------------------------------------
// What a request is, and how each protocol sends it.

type Protocol = "connect-h2" | "connect-h1" | "connect-library" | "grpc" | "grpc-web";

interface BadRequest {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly body: Uint8Array;
  readonly json: boolean;
  readonly tenant: string;
}

/** The status code of an answer, whatever the protocol carried it in. */
async function send(protocol: Protocol, req: BadRequest): Promise<number> {
  const path = `/${req.service.typeName}/${req.method.name}`;
  const headers: Record<string, string> = {};
  if (isTyped(req.service)) headers["entdb-tenant"] = req.tenant;
  const codec = req.json ? "json" : "proto";
  switch (protocol) {
    case "connect-h2":
    case "connect-library": {
      if (protocol === "connect-library") headers["connect-timeout-ms"] = "30000";
      const answer = await http2Exchange(
        session,
        {
          ":method": "POST",
          ":path": path,
          "content-type": `application/${codec}`,
          "connect-protocol-version": "1",
          ...headers,
        },
        req.body,
      );
      return connectCode(answer.status, answer.body);
    }
    case "connect-h1": {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: {
          "content-type": `application/${codec}`,
          "connect-protocol-version": "1",
          ...headers,
        },
        body: Buffer.from(req.body),
      });
      return connectCode(res.status, Buffer.from(await res.arrayBuffer()));
    }
    case "grpc": {
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": `application/grpc+${codec}`,
          te: "trailers",
          ...headers,
        });
        let found: string | undefined;
        const look = (h: http2.IncomingHttpHeaders) => {
          const v = h["grpc-status"];
          if (typeof v === "string") found = v;
        };
        stream.on("response", look);
        stream.on("trailers", look);
        stream.on("data", () => {});
        stream.on("end", () => resolve(found));
        stream.on("error", reject);
        stream.end(envelope(0, req.body));
      });
      return Number(status ?? -1);
    }
    case "grpc-web": {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": `application/grpc-web+${codec}`, "x-grpc-web": "1", ...headers },
        body: envelope(0, req.body),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const headerStatus = res.headers.get("grpc-status");
      if (headerStatus !== null) return Number(headerStatus);
      // The trailer frame is the last frame of the body.
      let at = 0;
      while (at + 5 <= bytes.length) {
        const length = bytes.readUInt32BE(at + 1);
        if ((bytes[at] ?? 0) & 0x80) {
          const trailer = bytes.subarray(at + 5, at + 5 + length).toString();
          return Number(/grpc-status: ?(\d+)/i.exec(trailer)?.[1] ?? -1);
        }
        at += 5 + length;
      }
      return -1;
    }
  }
}

/** The Connect code number of a unary answer (HTTP status plus its JSON error body). */
function connectCode(status: number, body: Buffer): number {
  if (status === 200) return 0;
  const names: Record<string, number> = {
    invalid_argument: 3,
    not_found: 5,
    resource_exhausted: 8,
    internal: 13,
    unavailable: 14,
    unimplemented: 12,
    failed_precondition: 9,
    permission_denied: 7,
    unauthenticated: 16,
  };
  try {
    const code = (JSON.parse(body.toString()) as { code?: string }).code ?? "";
    return names[code] ?? -1;
  } catch {
    return -1;
  }
}

function envelope(flags: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

// ---------------------------------------------------------------------------------
// Generators of malformed bodies.

const varint = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};

/** Well-formed unknown fields (numbers far above any the schema uses): valid protobuf. */
const unknownFields = fc
  .array(fc.tuple(fc.integer({ min: 10_000, max: 536_870_911 }), fc.nat({ max: 2 ** 31 })), {
    maxLength: 3,
  })
  .map((fields) => fields.flatMap(([no, value]) => [...varint(no * 8), ...varint(value)]));

/**
 * A tail that makes any body unparseable, on a field number `desc` does not define:
 * protobuf-es reads a known scalar field whatever its wire type says (a length-delimited
 * int is read as a varint), but skips an unknown field by its wire type and checks the
 * bounds.
 */
const brokenTail = (desc: DescMessage) => {
  const known = new Set(desc.fields.map((f) => f.number));
  const fieldNo = fc.integer({ min: 1, max: 2_000 }).filter((no) => !known.has(no));
  return fc.oneof(
    // wire types 6 and 7 do not exist
    fc.tuple(fieldNo, fc.constantFrom(6, 7)).map(([no, wt]) => varint(no * 8 + wt)),
    // a length-delimited field longer than what follows
    fc
      .tuple(fieldNo, fc.integer({ min: 1, max: 1_000 }), fc.uint8Array({ maxLength: 8 }))
      .map(([no, extra, bytes]) => [
        ...varint(no * 8 + 2),
        ...varint(bytes.length + extra),
        ...bytes,
      ]),
    // a varint cut off after a continuation byte
    fieldNo.map((no) => [...varint(no * 8), 0xff]),
  );
};

/** Invalid UTF-8 sequences: a stray continuation, a bad lead byte, an overlong form, a surrogate. */
const badUtf8 = fc.constantFrom(
  [0x80],
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xc3, 0x28],
  [0xf4, 0x90, 0x80, 0x80],
);

/** Field 1 of the method's input, when it is a string (it is the tenant on the generic service). */
function stringFieldOne(method: DescMethod): boolean {
  const f = method.input.fields.find((x) => x.number === 1);
  return f?.fieldKind === "scalar" && f.scalar === ScalarType.STRING;
}

const anyMethod = fc.constantFrom(...METHODS);
const tenant = fc.constantFrom(...TENANTS);

/** Binary bodies that are not a valid message of any type. */
const malformedBinary = fc
  .tuple(anyMethod, tenant, unknownFields)
  .chain(([m, t, prefix]) =>
    brokenTail(m.method.input).map((tail) => [m, t, prefix, tail] as const),
  )
  .map(([{ service, method }, t, prefix, tail]) => ({
    service,
    method,
    tenant: t,
    json: false,
    body: Uint8Array.from([...prefix, ...tail]),
  }));

/** Binary bodies whose only flaw is invalid UTF-8 in a string field. */
const badUtf8Binary = fc
  .tuple(
    fc.constantFrom(...METHODS.filter((m) => stringFieldOne(m.method))),
    tenant,
    fc.string({ maxLength: 10 }),
    badUtf8,
  )
  .map(([{ service, method }, t, text, bad]) => {
    const value = [...Buffer.from(text), ...bad];
    return {
      service,
      method,
      tenant: t,
      json: false,
      body: Uint8Array.from([0x0a, ...varint(value.length), ...value]),
    };
  });

/** JSON names of a message's fields, both spellings. */
function jsonNames(desc: DescMessage): Set<string> {
  return new Set(desc.fields.flatMap((f) => [f.jsonName, f.name]));
}

const jsonKey = fc.string({ minLength: 1, maxLength: 12 });

/** JSON bodies that are broken in one way each. */
const malformedJson = fc.oneof(
  // an unknown field name
  fc
    .tuple(anyMethod, tenant, jsonKey)
    .filter(([{ method }, , key]) => !jsonNames(method.input).has(key) && key !== "@type")
    .map(([{ service, method }, t, key]) => ({
      service,
      method,
      tenant: t,
      json: true,
      body: Buffer.from(JSON.stringify({ [key]: "5" })),
    })),
  // an unknown enum name in every enum field of the generic reads
  fc
    .tuple(fc.constantFrom("ListEdges", "Traverse"), tenant, fc.string({ maxLength: 12 }))
    .filter(([, , name]) => !/^DIRECTION_(UNSPECIFIED|OUT|IN)$/.test(name))
    .map(([name, t, bad]) => ({
      service: EntDbService,
      method: EntDbService.method[name === "ListEdges" ? "listEdges" : "traverse"],
      tenant: t,
      json: true,
      body: Buffer.from(JSON.stringify({ tenant: t, direction: bad === "" ? "X" : bad })),
    })),
  // an unknown enum name in a typed filter's op
  fc
    .tuple(tenant, fc.string({ minLength: 1, maxLength: 12 }))
    .filter(([, name]) => !name.startsWith("FILTER_OP_"))
    .map(([t, bad]) => ({
      service: typedService("TaskService"),
      method: typedMethod("TaskService", "Query"),
      tenant: t,
      json: true,
      body: Buffer.from(JSON.stringify({ where: [{ field: "title", op: bad }] })),
    })),
  // invalid UTF-8 inside a string
  fc
    .tuple(anyMethod, tenant, fc.string({ maxLength: 8 }), badUtf8)
    .map(([{ service, method }, t, text, bad]) => ({
      service,
      method,
      tenant: t,
      json: true,
      body: Buffer.concat([
        Buffer.from(
          `{"${method.input.fields[0]?.jsonName ?? "x"}": "${text.replace(/["\\]/g, "")}`,
        ),
        Buffer.from(bad),
        Buffer.from('"}'),
      ]),
    })),
  // a valid object cut short
  fc.tuple(anyMethod, tenant, fc.nat()).map(([{ service, method }, t, cut]) => {
    const whole = JSON.stringify({ [method.input.fields[0]?.jsonName ?? "x"]: null, tail: [1, 2] });
    return {
      service,
      method,
      tenant: t,
      json: true,
      body: Buffer.from(whole.slice(0, 1 + (cut % (whole.length - 1)))),
    };
  }),
  // a string field given a number, an array or an object
  fc
    .tuple(
      fc.constantFrom(...METHODS.filter((m) => !isTyped(m.service) && stringFieldOne(m.method))),
      tenant,
      fc.constantFrom<unknown>(5, [], {}, true),
    )
    .map(([{ service, method }, t, value]) => ({
      service,
      method,
      tenant: t,
      json: true,
      body: Buffer.from(JSON.stringify({ tenant: value })),
    })),
);

function typedService(name: string): DescService {
  const s = TYPED_SERVICES.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name}`);
  return s;
}

function typedMethod(service: string, name: string): DescMethod {
  const m = typedService(service).methods.find((x) => x.name === name);
  if (!m) throw new Error(`no ${service}/${name}`);
  return m;
}

/** A body of `method` as binary or JSON-free protobuf (the message is well-formed). */
function encoded(
  service: DescService,
  method: DescMethod,
  t: string,
  init: MessageInitShape<DescMessage>,
): BadRequest {
  return {
    service,
    method,
    tenant: t,
    json: false,
    body: toBinary(method.input, create(method.input, init)),
  };
}

/** The `FilterValue` cases of the typed filter and the Task fields of each kind. */
const VALUE_CASES = [
  ["stringValue", "x"],
  ["intValue", 3n],
  ["floatValue", 1.5],
  ["boolValue", true],
  ["bytesValue", new Uint8Array([1])],
  ["enumValue", 1],
] as const;
const TASK_FIELDS = [
  ["title", "stringValue"],
  ["number", "intValue"],
  ["points", "floatValue"],
  ["status", "enumValue"],
  ["project", "stringValue"],
] as const;

/** The names a Task's typed calls accept for a field ("id" orders by the node id). */
const TASK_FIELD_NAMES = new Set([
  "id",
  ...(file_acme_tracker_task.messages.find((m) => m.name === "Task")?.fields.map((f) => f.name) ??
    []),
]);

/** Well-formed messages whose values the server must refuse. */
const badValues = fc
  .oneof(
    // typed calls used the wrong way: a json field JSON cannot hold, an unknown field
    // to clear or order by, two orders
    fc
      .tuple(
        tenant,
        fc.oneof(
          fc
            .constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
            .map((value) => ({
              service: "ProjectService",
              method: "Create",
              init: {
                fields: {
                  team: "0190a0a0-0000-7000-8000-000000000001",
                  key: "K",
                  name: "N",
                  settings: { kind: { case: "numberValue", value } },
                },
              },
            })),
          jsonKey
            .filter((name) => !TASK_FIELD_NAMES.has(name))
            .chain((name) =>
              fc.constantFrom(
                {
                  service: "TaskService",
                  method: "Update",
                  init: { id: "n", clearFields: [name] } as Record<string, unknown>,
                },
                { service: "TaskService", method: "Query", init: { orderBy: [{ field: name }] } },
              ),
            ),
          fc.constant({
            service: "TaskService",
            method: "Query",
            init: { orderBy: [{ field: "title" }, { field: "number" }] },
          }),
        ),
      )
      .map(([t, { service, method, init }]) =>
        encoded(typedService(service), typedMethod(service, method), t, init),
      ),
    // a typed filter value of another kind than its field
    fc
      .tuple(tenant, fc.constantFrom(...TASK_FIELDS), fc.constantFrom(...VALUE_CASES))
      .filter(([, [, kind], [value]]) => kind !== value)
      .map(([t, [field], [valueCase, value]]) =>
        encoded(typedService("TaskService"), typedMethod("TaskService", "Query"), t, {
          where: [{ field, op: 1, values: [{ kind: { case: valueCase, value } }] }],
        }),
      ),
    // a generic filter value of another kind than its field
    fc
      .tuple(
        tenant,
        fc.constantFrom(
          { fieldId: 2, value: create(ValueSchema, { kind: { case: "stringValue", value: "x" } }) },
          { fieldId: 3, value: create(ValueSchema, { kind: { case: "intValue", value: 5n } }) },
          { fieldId: 10, value: create(ValueSchema, { kind: { case: "boolValue", value: true } }) },
          {
            fieldId: 5,
            value: create(ValueSchema, { kind: { case: "stringValue", value: "todo" } }),
          },
        ),
      )
      .map(([t, { fieldId, value }]) => ({
        service: EntDbService,
        method: EntDbService.method.queryNodes,
        tenant: t,
        json: false,
        body: toBinary(
          QueryNodesRequestSchema,
          create(QueryNodesRequestSchema, {
            tenant: t,
            typeId: TASK,
            filters: [create(FilterSchema, { fieldId, op: FilterOp.EQ, values: [value] })],
          }),
        ),
      })),
    // an after_position that cannot exist: no such partition, or a negative or unwritten offset
    fc
      .tuple(
        fc.constantFrom(
          "getNode",
          "getNodes",
          "queryNodes",
          "listEdges",
          "traverse",
          "getNodeByKey",
        ),
        tenant,
        fc.oneof(
          fc.record({
            partition: fc.integer({ min: 8, max: 2 ** 32 - 1 }),
            offset: fc.constant(1n),
          }),
          fc.record({
            partition: fc.constant(-1),
            offset: fc.bigInt({ min: -(2n ** 63n), max: -1n }),
          }),
          fc.record({
            partition: fc.constant(-1),
            offset: fc.bigInt({ min: 2n ** 40n, max: 2n ** 63n - 1n }),
          }),
        ),
      )
      .map(([name, t, pos]) => ({ name, t, pos })),
    // a cursor that no query made
    fc
      .tuple(
        fc.constantFrom("queryNodes", "listEdges"),
        tenant,
        fc.string({ minLength: 1, maxLength: 60 }),
      )
      .map(([name, t, cursor]) => ({ name, t, cursor })),
    // a node type the schema does not have
    fc
      .tuple(
        fc.constantFrom("getNode", "queryNodes", "getNodes"),
        tenant,
        fc.integer({ min: 1_000, max: 2 ** 31 }),
      )
      .map(([name, t, typeId]) => ({ name, t, typeId })),
    // generic reads used the wrong way
    fc
      .tuple(
        tenant,
        fc.oneof(
          // a key of the wrong kind, or of a field that is not unique
          fc
            .constantFrom(
              { 2: create(ValueSchema, { kind: { case: "intValue", value: 7n } }) },
              { 1: create(ValueSchema, { kind: { case: "stringValue", value: "Team" } }) },
            )
            .map((key) => ({
              method: EntDbService.method.getNodeByKey,
              init: { typeId: TEAM, key },
            })),
          // an edge type the schema does not have, or no direction
          fc
            .tuple(fc.integer({ min: 1_000, max: 2 ** 31 }), fc.constantFrom(0, 1, 2))
            .map(([edgeTypeId, direction]) => ({
              method: EntDbService.method.listEdges,
              init: { edgeTypeId: direction === 0 ? 100 : edgeTypeId, nodeId: "n", direction },
            })),
          // a traversal over an unknown edge type, or deeper than the limit
          fc
            .tuple(fc.integer({ min: 1_000, max: 2 ** 31 }), fc.integer({ min: 7, max: 1_000 }))
            .chain(([edge, depth]) =>
              fc.constantFrom(
                { edgeTypeIds: [edge], maxDepth: 1 },
                { edgeTypeIds: [100], maxDepth: depth },
              ),
            )
            .map((init) => ({
              method: EntDbService.method.traverse,
              init: { startId: "n", ...init },
            })),
        ),
      )
      .map(([t, { method, init }]) => encoded(EntDbService, method, t, { tenant: t, ...init })),
  )
  .map((x) => ("body" in x ? x : genericRead(x)));

/** The partition each tenant's events go to, read from a receipt. */
const partitionOf = new Map<string, number>();

function genericRead(x: {
  name: string;
  t: string;
  pos?: { partition: number; offset: bigint };
  cursor?: string;
  typeId?: number;
}): BadRequest {
  const method = EntDbService.method[x.name as keyof typeof EntDbService.method];
  const init: Record<string, unknown> = {
    tenant: x.t,
    typeId: x.typeId ?? TEAM,
    edgeTypeId: 100,
    nodeId: "n",
    id: "n",
    ids: ["n"],
    startId: "n",
    direction: 1,
  };
  if (x.pos)
    init["afterPosition"] = {
      partition: x.pos.partition === -1 ? (partitionOf.get(x.t) ?? 0) : x.pos.partition,
      offset: x.pos.offset,
    };
  if (x.cursor !== undefined) init["cursor"] = x.cursor;
  if (x.name === "getNodeByKey") init["key"] = { 2: { kind: { case: "stringValue", value: "k" } } };
  const known = new Set(method.input.fields.map((f) => f.localName));
  return encoded(
    EntDbService,
    method,
    x.t,
    Object.fromEntries(Object.entries(init).filter(([k]) => known.has(k))),
  );
}

const protocol = fc.constantFrom<Protocol>(
  "connect-h2",
  "connect-h1",
  "connect-library",
  "grpc",
  "grpc-web",
);
const jsonProtocol = fc.constantFrom<Protocol>(
  "connect-h1",
  "connect-h2",
  "connect-library",
  "grpc",
  "grpc-web",
);

// ---------------------------------------------------------------------------------
// What must not change.

/**
 * The log's record count and last offset in each partition. The server holds its log
 * file in exclusive locking mode, so this reads a copy of the file and its SQLite WAL
 * (consistent while nothing is appended, which is the point of the check).
 */
function walEnds(): string {
  const copy = mkdtempSync(join(tmpdir(), "entdb-corpus-wal-"));
  try {
    for (const suffix of ["", "-wal"]) {
      const from = join(server.dataDir, `wal.sqlite${suffix}`);
      if (existsSync(from)) copyFileSync(from, join(copy, `wal.sqlite${suffix}`));
    }
    const db = new Database(join(copy, "wal.sqlite"), { fileMustExist: true });
    try {
      return JSON.stringify(
        db
          .prepare(
            "SELECT partition_no, MAX(log_offset) AS last, COUNT(*) AS n FROM wal_records GROUP BY partition_no ORDER BY partition_no",
          )
          .all(),
      );
    } finally {
      db.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Every tenant file's canonical dump, by name. */
function tenantDumps(): Record<string, string> {
  const dir = join(server.dataDir, "tenants");
  const out: Record<string, string> = {};
  // SQLite's -wal and -shm companions come and go with checkpoints; the dump reads through them.
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith(".sqlite")) out[f] = canonicalDump(join(dir, f));
  }
  return out;
}

/** The server's resident set size in bytes. */
function rss(): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

let before: { wal: string; dumps: Record<string, string>; logLines: number };

beforeAll(async () => {
  api = entDbClient(server, { httpVersion: "2", binary: true });
  session = http2.connect(server.url);
  for (const t of TENANTS) {
    const { receipt } = await api.executePlan({
      tenant: t,
      operations: [teamOp(`Team ${t}`, `slug-${t}`), teamOp(`Other ${t}`, `other-${t}`)],
    });
    partitionOf.set(t, receipt?.position?.partition ?? 0);
  }
  before = { wal: walEnds(), dumps: tenantDumps(), logLines: server.logs().split("\n").length };
  expect(Object.keys(before.dumps).length).toBeGreaterThanOrEqual(TENANTS.length);
});

afterAll(() => session?.close());

describe("a corpus of malformed requests", () => {
  let rssAfterWarmUp = 0;

  it("answers unparseable protobuf with INVALID_ARGUMENT on every protocol and service", async () => {
    await fc.assert(
      fc.asyncProperty(protocol, fc.oneof(malformedBinary, badUtf8Binary), async (p, req) => {
        expect(await send(p, req)).toBe(INVALID_ARGUMENT);
      }),
      { numRuns: 1_000 },
    );
    rssAfterWarmUp = rss();
  }, 60_000);

  it("answers JSON that binary would refuse with INVALID_ARGUMENT", async () => {
    await fc.assert(
      fc.asyncProperty(jsonProtocol, malformedJson, async (p, req) => {
        expect(await send(p, req)).toBe(INVALID_ARGUMENT);
      }),
      { numRuns: 1_000 },
    );
  }, 60_000);

  it("answers well-formed requests with impossible values with INVALID_ARGUMENT", async () => {
    await fc.assert(
      fc.asyncProperty(protocol, badValues, async (p, req) => {
        expect(await send(p, req)).toBe(INVALID_ARGUMENT);
      }),
      { numRuns: 900 },
    );
  }, 60_000);

  it("stays up, bounded in memory, logs no error, and changes neither the log nor any tenant", async () => {
    expect(server.child.exitCode).toBeNull();
    const page = await api.queryNodes({ tenant: TENANTS[0], typeId: TEAM });
    expect(page.nodes).toHaveLength(2);
    // What the server refused must not accumulate (see HEAP_MB).
    const resident = rss();
    expect(resident).toBeLessThan(MAX_RSS_BYTES);
    expect(resident - rssAfterWarmUp).toBeLessThan(48 * 1024 * 1024);
    const newLines = server
      .logs()
      .split("\n")
      .slice(before.logLines - 1);
    expect(newLines.filter((l) => /"level":"(error|warn)"/.test(l))).toEqual([]);
    expect(walEnds()).toBe(before.wal);
    expect(tenantDumps()).toEqual(before.dumps);
  });
});
