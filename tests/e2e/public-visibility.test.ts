/**
 * `visibility = public` against a real `entdb serve` (docs/access-control.md, "Public
 * nodes"): an authenticated caller that is not a member of the tenant reads the nodes of
 * public types, and nothing else, on every read path (inside the SQL: full pages, right
 * counts, NOT_FOUND like a missing node); every other RPC stays PERMISSION_DENIED. A read
 * with no token is answered the same way only under `--public-reads`.
 */

import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Direction } from "../../generated/entdb/v1/entdb_pb.js";
import type { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  str,
  tokenArgs,
} from "./e2e-helpers.ts";

const SCHEMA = `package acme.board;

node Person = 1 {
  handle: string = 1 [required, unique];
}

node Note = 2 [visibility = private] {
  title: string = 1 [required, unique];
}

node Notice = 3 [visibility = public] {
  title: string = 1 [required, unique];
  rank: int = 2 [index];
}

/// Public, but read as the Note it is pinned to.
node Pin = 4 [visibility = public] {
  title: string = 1 [required];
  on: ref<Note> = 2 [inherit_access];
}

edge Posted = 100 from Person to Notice;
edge Links = 101 from Notice to Person;
`;
const PERSON = 1;
const NOTE = 2;
const NOTICE = 3;
const PIN = 4;
const POSTED = 100;
const LINKS = 101;

const schemaPath = join(mkdtempSync(join(tmpdir(), "entdb-public-")), "schema.entdb");
writeFileSync(schemaPath, SCHEMA);

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
  mallory: "mallory-token-01234567",
} as const;
const TOKEN_ARGS = tokenArgs(TOKENS, ["root"]);
const TENANT = "acme";

type Value = MessageInitShape<typeof ValueSchema>;
type Who = keyof typeof TOKENS | "anonymous";

/** What alice wrote: a person, a private note, six notices (one denied to mallory), pins. */
interface Made {
  readonly person: string;
  readonly note: string;
  readonly notices: readonly string[];
  readonly denied: string;
  readonly loosePin: string;
  readonly pinned: string;
}

async function setUp(server: { url: string }): Promise<Made> {
  const client = (who: keyof typeof TOKENS) => entDbClient(server, { token: TOKENS[who] });
  await client("root").createTenant({ tenant: TENANT, owner: "user:alice" });
  const create = (typeId: number, alias: string, fields: Record<number, Value>) => ({
    op: { case: "createNode" as const, value: { typeId, alias, fields } },
  });
  const notices = [0, 1, 2, 3, 4, 5].map((i) =>
    create(NOTICE, `n${i}`, {
      1: str(`notice-${i}`),
      2: { kind: { case: "intValue", value: BigInt(i) } },
    }),
  );
  const made = await client("alice").executePlan({
    tenant: TENANT,
    operations: [
      create(PERSON, "p", { 1: str("ann") }),
      create(NOTE, "note", { 1: str("secret") }),
      ...notices,
      create(PIN, "loose", { 1: str("loose pin") }),
      create(PIN, "pinned", {
        1: str("pinned"),
        2: { kind: { case: "refValue", value: "$note" } },
      }),
      { op: { case: "createEdge", value: { edgeTypeId: POSTED, fromId: "$p", toId: "$n0" } } },
      { op: { case: "createEdge", value: { edgeTypeId: POSTED, fromId: "$p", toId: "$n1" } } },
      { op: { case: "createEdge", value: { edgeTypeId: LINKS, fromId: "$n0", toId: "$p" } } },
    ],
  });
  const ids = made.results.map((r) => r.id);
  const result = {
    person: ids[0]!,
    note: ids[1]!,
    notices: ids.slice(2, 8),
    denied: ids[7]!,
    loosePin: ids[8]!,
    pinned: ids[9]!,
  };
  await client("alice").shareNode({
    tenant: TENANT,
    nodeId: result.denied,
    principal: "user:mallory",
    deny: true,
  });
  return result;
}

function callerFor(server: { url: string }, who: Who): EntDbClient {
  return entDbClient(server, who === "anonymous" ? {} : { token: TOKENS[who] });
}

async function queryAll(api: EntDbClient, typeId: number, tenant = TENANT): Promise<string[]> {
  const ids: string[] = [];
  let cursor = "";
  do {
    const page = await api.queryNodes({ tenant, typeId, limit: 2, cursor });
    if (page.nextCursor !== "") expect(page.nodes).toHaveLength(2);
    ids.push(...page.nodes.map((n) => n.id));
    cursor = page.nextCursor;
  } while (cursor !== "");
  return ids.sort();
}

/** The reads a non-member (or an anonymous reader) gets, checked for `who`. */
function publicReads(server: { url: string; dataDir: string }, made: () => Made, who: Who) {
  const api = () => callerFor(server, who);

  it(`${who}: reads public nodes and only those, with full pages`, async () => {
    const m = made();
    const open = m.notices.filter((id) => id !== m.denied);
    const visible = who === "mallory" ? open : m.notices;
    expect(await queryAll(api(), NOTICE)).toEqual([...visible].sort());
    expect(await queryAll(api(), PERSON)).toEqual([]);
    expect(await queryAll(api(), NOTE)).toEqual([]);
    // A public Pin is read as its parent: the one pinned to the private note is hidden.
    expect(await queryAll(api(), PIN)).toEqual([m.loosePin]);
    const got = await api().getNode({ tenant: TENANT, typeId: NOTICE, id: m.notices[0]! });
    expect(got.node?.id).toBe(m.notices[0]);
    const key = await api().getNodeByKey({
      tenant: TENANT,
      typeId: NOTICE,
      key: { 1: str("notice-1") },
    });
    expect(key.node?.id).toBe(m.notices[1]);
    const many = await api().getNodes({
      tenant: TENANT,
      typeId: NOTICE,
      ids: [m.notices[0]!, m.denied],
    });
    expect(many.nodes.map((n) => n.id)).toEqual(
      who === "mallory" ? [m.notices[0]] : [m.notices[0], m.denied],
    );
  });

  it(`${who}: a node of another visibility reads exactly like a missing one`, async () => {
    const m = made();
    for (const [typeId, id] of [
      [PERSON, m.person],
      [NOTE, m.note],
      [PIN, m.pinned],
    ] as const) {
      const hidden = await connectError(api().getNode({ tenant: TENANT, typeId, id }));
      const missing = await connectError(
        api().getNode({ tenant: TENANT, typeId, id: `${id.slice(0, -4)}zzzz` }),
      );
      expect(hidden.code).toBe(Code.NotFound);
      expect(hidden.rawMessage).toBe(missing.rawMessage.replace(`${id.slice(0, -4)}zzzz`, id));
    }
  });

  it(`${who}: lists only edges between public nodes, and counts only those`, async () => {
    const m = made();
    const posted = await api().listEdges({
      tenant: TENANT,
      edgeTypeId: POSTED,
      nodeId: m.notices[0]!,
      direction: Direction.IN,
      includeCount: true,
    });
    // The other end is a Person (tenant visibility): not listed, not counted.
    expect([posted.edges.length, posted.totalCount]).toEqual([0, 0n]);
    const walked = await api().traverse({
      tenant: TENANT,
      startId: m.notices[0]!,
      edgeTypeIds: [LINKS],
    });
    expect(walked.nodes.map((n) => n.node?.id)).toEqual([]);
  });

  it(`${who}: a tenant that does not exist reads as empty and gets no file`, async () => {
    expect(await queryAll(api(), NOTICE, "nowhere")).toEqual([]);
    expect(existsSync(join(server.dataDir, "tenants", tenantFileName("nowhere")))).toBe(false);
  });
}

describe("with --public-reads", () => {
  const server = serverPerFile({ schema: schemaPath, args: [...TOKEN_ARGS, "--public-reads"] });
  let made: Made | undefined;
  beforeAll(async () => {
    made = await setUp(server);
  }, 30_000);
  const m = () => made!;

  publicReads(server, m, "mallory");
  publicReads(server, m, "anonymous");
  publicReads(server, m, "root");

  it("refuses a non-member everything but reads", async () => {
    const mallory = callerFor(server, "mallory");
    const notMember = `'user:mallory' is not a member of tenant '${TENANT}'; a tenant admin or owner can add it with AddTenantMember.`;
    // Each call starts when the loop reaches it: started together, a refusal that comes
    // before the loop awaits it would be an unhandled rejection.
    for (const call of [
      () =>
        mallory.executePlan({
          tenant: TENANT,
          operations: [
            { op: { case: "createNode", value: { typeId: NOTICE, fields: { 1: str("mine") } } } },
          ],
        }),
      () => mallory.getReceipt({ tenant: TENANT, idempotencyKey: "k" }),
      () =>
        mallory.waitForPosition({
          tenant: TENANT,
          position: { partition: 0, offset: 0n },
          timeoutMs: 1,
        }),
      () => mallory.listTenantMembers({ tenant: TENANT }),
      () =>
        mallory.shareNode({
          tenant: TENANT,
          nodeId: m().notices[0]!,
          principal: "user:mallory",
          capability: "read",
        }),
    ]) {
      const err = await connectError(call());
      expect([err.code, err.rawMessage]).toEqual([Code.PermissionDenied, notMember]);
    }
  });

  it("answers every other RPC without a token UNAUTHENTICATED, and a bad token on reads too", async () => {
    const anonymous = callerFor(server, "anonymous");
    const write = await connectError(
      anonymous.executePlan({
        tenant: TENANT,
        operations: [
          { op: { case: "createNode", value: { typeId: NOTICE, fields: { 1: str("anon") } } } },
        ],
      }),
    );
    expect(write.code).toBe(Code.Unauthenticated);
    expect((await connectError(anonymous.getSchema({}))).code).toBe(Code.Unauthenticated);
    const bad = entDbClient(server, { token: "bad-token-0123456789" });
    const read = await connectError(bad.queryNodes({ tenant: TENANT, typeId: NOTICE }));
    expect(read.code).toBe(Code.Unauthenticated);
  });

  it("serves public reads to anonymous callers of the typed services too", async () => {
    const res = await fetch(`${server.url}/acme.board.NoticeService/Get`, {
      method: "POST",
      headers: { "content-type": "application/json", "entdb-tenant": TENANT },
      body: JSON.stringify({ id: m().notices[2] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { node: { id: string } }).node.id).toBe(m().notices[2]);
    const hidden = await fetch(`${server.url}/acme.board.PersonService/Get`, {
      method: "POST",
      headers: { "content-type": "application/json", "entdb-tenant": TENANT },
      body: JSON.stringify({ id: m().person }),
    });
    expect([hidden.status, ((await hidden.json()) as { code: string }).code]).toEqual([
      404,
      "not_found",
    ]);
  });
});

describe("without --public-reads", () => {
  const server = serverPerFile({ schema: schemaPath, args: TOKEN_ARGS });
  let made: Made | undefined;
  beforeAll(async () => {
    made = await setUp(server);
  }, 30_000);

  publicReads(server, () => made!, "mallory");

  it("answers a read without a token UNAUTHENTICATED", async () => {
    const err = await connectError(
      callerFor(server, "anonymous").getNode({
        tenant: TENANT,
        typeId: NOTICE,
        id: made!.notices[0]!,
      }),
    );
    expect(err.code).toBe(Code.Unauthenticated);
  });
});
