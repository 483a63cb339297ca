/**
 * Client/server schema skew with real generated clients (which send their schema's
 * fingerprint) against real servers, one row per kind of compatible change, both ways,
 * following the rollout recipe of docs/schema-evolution.md:
 *
 * 1. A v2 client against a server still on v1 (the app deployed before the schema was
 *    pushed): what v1 knows works; what only v2 has is FAILED_PRECONDITION naming it.
 * 2. Push v2. A v1 client against the v2 server (apps not yet redeployed): everything it
 *    does works, it never clears the fields it does not know, and it reads renamed fields
 *    by id; a value it cannot represent (a new enum number) is a clear client error.
 * 3. Removal: v2 deprecated `Item.old_note` and stopped using it; v3 removes it and
 *    reserves its id. A v1 client still writing it is refused (INVALID_ARGUMENT: its
 *    schema is a registered one, the field is gone), which is why "stop using" comes first.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateClient } from "../../codegen/index.ts";
import { createNodeTransport } from "../../runtime/node.ts";
import type { ClientOptions, EntDbError } from "../../runtime/v1.ts";
import { compileSchema } from "../../schema/compile.ts";
import { schemaFingerprint } from "../../schema/fingerprint.ts";
import { schemaSurface } from "../../server/schema-surface.ts";
import { connectError, entDbClient, runCommand, str } from "./e2e-helpers.ts";
import { REPO_ROOT, type ServerProcess, startServerProcess } from "./server-process.ts";

const V1 = `package acme.skew;

enum Level {
  low = 1;
  high = 2;
}

node Item = 1 {
  title: string = 1 [required];
  level: Level = 2;
  old_note: string = 3;
}

node Tag = 2 {
  name: string = 1 [required];
}

edge Tagged = 100 from Item to Tag;
`;

/** v1 plus one compatible change of each kind. */
const V2 = `package acme.skew;

enum Level {
  low = 1;
  high = 2;
  urgent = 3;
}

node Item = 1 {
  headline: string = 1 [required];
  level: Level = 2 [index];
  old_note: string = 3 [deprecated];
  color: string = 4;
}

node Tag = 2 {
  name: string = 1 [required];
}

node Label = 3 {
  name: string = 1;
}

edge Tagged = 100 from Item to Tag;

edge Labeled = 101 from Item to Label;
`;

/** v2 with the deprecated field removed and its id reserved. */
const V3 = V2.replace("  old_note: string = 3 [deprecated];\n", "  reserved 3;\n");

type Row = Readonly<Record<string, unknown>> & { readonly id: string };
interface Nodes {
  create(input: object): Promise<{ readonly id: string }>;
  get(id: string): Promise<Row | undefined>;
  update(id: string, patch: object): Promise<unknown>;
}
interface Edges {
  link(from: string, to: string): Promise<unknown>;
}
type SkewClient = Readonly<Record<string, Nodes & Edges>>;

const dirs: string[] = [];
const servers: ServerProcess[] = [];

/** Generates the client of `text` into a temp dir under the repo and imports it. */
async function clientOf(text: string): Promise<(options: ClientOptions) => SkewClient> {
  const compiled = compileSchema({ path: "schema.entdb", text });
  if (!compiled.schema) throw new Error("a test schema does not compile");
  const dir = mkdtempSync(join(REPO_ROOT, ".tmp-e2e-client-"));
  dirs.push(dir);
  const { content } = generateClient(compiled.schema, { runtimeImport: "../runtime/v1.ts" });
  writeFileSync(join(dir, "client.ts"), content);
  const mod = (await import(pathToFileURL(join(dir, "client.ts")).href)) as {
    createClient(options: ClientOptions): SkewClient;
  };
  return (options) => mod.createClient(options);
}

let schemaDir: string;
let createV1: (options: ClientOptions) => SkewClient;
let createV2: (options: ClientOptions) => SkewClient;

function connect(
  create: (options: ClientOptions) => SkewClient,
  server: ServerProcess,
): SkewClient {
  return create({
    tenant: "skew",
    transport: createNodeTransport({ baseUrl: server.url, protocol: "connect" }),
    retry: false,
  });
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing");
  return value;
}

async function failure(promise: Promise<unknown>): Promise<EntDbError> {
  try {
    await promise;
  } catch (err) {
    return err as EntDbError;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  schemaDir = mkdtempSync(join(REPO_ROOT, ".tmp-e2e-skew-"));
  dirs.push(schemaDir);
  for (const [name, text] of [
    ["v1.entdb", V1],
    ["v2.entdb", V2],
    ["v3.entdb", V3],
  ] as const)
    writeFileSync(join(schemaDir, name), text);
  [createV1, createV2] = await Promise.all([clientOf(V1), clientOf(V2)]);
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("schema skew", () => {
  let server: ServerProcess;
  let itemFromV1 = "";

  /** `entdb schema push FILE` to the server, as an operator runs it. */
  const pushSchema = (file: string) => {
    const { ENTDB_TOKEN: _t, ENTDB_URL: _u, ...env } = process.env;
    return runCommand(
      process.execPath,
      [join(REPO_ROOT, "bin", "entdb.ts"), "schema", "push", file, "--url", server.url],
      { cwd: schemaDir, env, timeout: 60_000 },
    );
  };

  beforeAll(async () => {
    server = await startServerProcess({ schema: join(schemaDir, "v1.entdb") });
    servers.push(server);
    const v1 = connect(createV1, server);
    itemFromV1 = (await v1.item?.create({ title: "first", level: "high", oldNote: "n" }))?.id ?? "";
  }, 60_000);

  describe("client v2 × server v1 (the app deployed before the schema was pushed)", () => {
    it("works for everything v1 knows, a renamed field included", async () => {
      const v2 = connect(createV2, server);
      const made = await need(v2.item).create({ headline: "from v2", level: "low" });
      const read = await need(v2.item).get(made.id);
      expect(read).toMatchObject({ headline: "from v2", level: "low", color: undefined });
      expect(await need(v2.item).get(itemFromV1)).toMatchObject({
        headline: "first",
        level: "high",
      });
    });

    it.each([
      [
        "a new field",
        (c: SkewClient) => need(c.item).create({ headline: "x", color: "red" }),
        "field id 4 of 'Item' (type id 1)",
      ],
      ["a new node type", (c: SkewClient) => need(c.label).create({ name: "l" }), "type id 3"],
      [
        "a new edge type",
        (c: SkewClient) => need(c.labeled).link(itemFromV1, itemFromV1),
        "type id 101",
      ],
      [
        "a new enum value",
        (c: SkewClient) => need(c.item).create({ headline: "x", level: "urgent" }),
        "an enum number unknown to field 'Item.level'",
      ],
    ])("refuses %s with FAILED_PRECONDITION naming it", async (_kind, call, named) => {
      const err = await failure(call(connect(createV2, server)));
      expect(err.code).toBe("failed_precondition");
      expect(err.message).toContain("This client was built from schema sha256:");
      expect(err.message).toContain("which this server does not serve yet (it serves version 1");
      expect(err.message).toContain(`the call uses ${named}`);
      expect(err.message).toContain("Push the client's schema to the server first");
    });

    it("refuses a new field sent in binary to a typed service, instead of dropping it", async () => {
      const model = need(compileSchema({ path: "v2.entdb", text: V2 }).schema);
      const { files } = schemaSurface({ version: 2, fingerprint: "", model, lockJson: "" });
      const request = need(
        files.flatMap((f) => f.messages).find((m) => m.name === "CreateItemRequest"),
      );
      const body = toBinary(
        request,
        create(request, { fields: { headline: "binary", color: "red" } }),
      );
      const call = async (headers: Record<string, string>) => {
        const res = await fetch(`${server.url}/acme.skew.ItemService/Create`, {
          method: "POST",
          headers: {
            "content-type": "application/proto",
            "entdb-tenant": "skew",
            ...headers,
          },
          body,
        });
        return (await res.json()) as { code: string; message: string };
      };
      const newer = await call({ "entdb-schema-fingerprint": schemaFingerprint(model) });
      expect(newer.code).toBe("failed_precondition");
      expect(newer.message).toContain(
        "the call uses field id 4 of 'Item' (type id 1), which the server's schema does not have.",
      );
      expect(await call({})).toEqual({
        code: "invalid_argument",
        message:
          "The request sets field id 4 of 'Item' (type id 1), which schema version 1 that the server serves does not define; the value would be lost. Use a client generated from the server's schema (GetSchema), or push the newer schema first (entdb schema push).",
      });
    });

    it("keeps INVALID_ARGUMENT for a caller that sends no schema fingerprint", async () => {
      const err = await connectError(
        entDbClient(server).executePlan({
          tenant: "skew",
          operations: [
            {
              op: {
                case: "createNode",
                value: { typeId: 1, fields: { 1: str("x"), 4: str("red") } },
              },
            },
          ],
        }),
      );
      expect(err.code).toBe(3);
      expect(err.rawMessage).toBe("Item has no field with id 4.");
    });
  });

  describe("client v1 × server v2 (the schema pushed, the app not yet redeployed)", () => {
    let itemFromV2 = "";

    beforeAll(async () => {
      const push = await pushSchema("v2.entdb");
      if (push.code !== 0) throw new Error(`push failed: ${push.stderr}`);
      const v2 = connect(createV2, server);
      itemFromV2 = (
        await need(v2.item).create({ headline: "second", level: "high", color: "blue" })
      ).id;
    }, 60_000);

    it("the v2 client now works in full", async () => {
      const v2 = connect(createV2, server);
      const label = await need(v2.label).create({ name: "l" });
      await need(v2.labeled).link(itemFromV2, label.id);
      expect(await need(v2.item).get(itemFromV2)).toMatchObject({ color: "blue" });
    });

    it("reads and writes as before, a renamed field by its old name", async () => {
      const v1 = connect(createV1, server);
      const made = await need(v1.item).create({ title: "old app", level: "low", oldNote: "n" });
      expect(await need(v1.item).get(made.id)).toMatchObject({ title: "old app", oldNote: "n" });
      const read = await need(v1.item).get(itemFromV2);
      expect(read).toMatchObject({ title: "second", level: "high" });
      expect(read && "color" in read).toBe(false);
      const tag = await need(v1.tag).create({ name: "t" });
      await need(v1.tagged).link(made.id, tag.id);
    });

    it("never clears a field it does not know when it updates", async () => {
      const v1 = connect(createV1, server);
      await need(v1.item).update(itemFromV2, { title: "renamed by v1", oldNote: null });
      const v2 = connect(createV2, server);
      expect(await need(v2.item).get(itemFromV2)).toMatchObject({
        headline: "renamed by v1",
        color: "blue",
      });
    });

    it("cannot represent a new enum value, and says to regenerate", async () => {
      const v2 = connect(createV2, server);
      const urgent = await need(v2.item).create({ headline: "u", level: "urgent" });
      const err = await failure(need(connect(createV1, server).item).get(urgent.id));
      expect(err.message).toBe(
        "Item.level holds enum number 3, which this client does not know; regenerate the client from the server's schema.",
      );
    });
  });

  describe("removing a field: deprecate, stop using, remove and reserve", () => {
    it("a v1 client still writing the removed field is refused; one that stopped is not", async () => {
      const push = await pushSchema("v3.entdb");
      expect(push.stderr).toBe("");
      expect(push.code).toBe(0);
      expect(push.stdout).toContain("serves schema version 3");
      const v1 = connect(createV1, server);
      const err = await failure(need(v1.item).create({ title: "t", oldNote: "still" }));
      expect(err.code).toBe("invalid_argument");
      expect(err.message).toContain("Item has no field with id 3.");
      await need(v1.item).create({ title: "t" });
    });
  });
});
