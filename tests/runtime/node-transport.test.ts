import { once } from "node:events";
import { createServer } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { createNodeTransport, type NodeTransportOptions } from "../../runtime/node.ts";
import { EntDbClientCore, PlanBuilder } from "../../runtime/v1.ts";
import { FakeEntDb } from "./fake-entdb-service.ts";
import { testSchema, USER } from "./test-schema.ts";

const fake = new FakeEntDb();
const http1 = createServer(connectNodeAdapter({ routes: fake.routes }));
const http2 = createHttp2Server(connectNodeAdapter({ routes: fake.routes }));
let http1Url = "";
let http2Url = "";

beforeAll(async () => {
  http1.listen(0, "127.0.0.1");
  http2.listen(0, "127.0.0.1");
  await Promise.all([once(http1, "listening"), once(http2, "listening")]);
  http1Url = `http://127.0.0.1:${(http1.address() as AddressInfo).port}`;
  http2Url = `http://127.0.0.1:${(http2.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http1.close();
  http2.close();
});

describe("Node transports", () => {
  const cases: [string, () => NodeTransportOptions][] = [
    ["Connect over HTTP/1.1", () => ({ baseUrl: http1Url, token: "t-1" })],
    ["Connect over HTTP/2", () => ({ baseUrl: http2Url, httpVersion: "2", token: "t-1" })],
    ["gRPC", () => ({ baseUrl: http2Url, protocol: "grpc", token: "t-1" })],
  ];
  for (const [name, options] of cases) {
    it(`writes and reads with ${name}, sending the bearer token`, async () => {
      const before = fake.calls.length;
      const core = new EntDbClientCore({
        transport: createNodeTransport(options()),
        tenant: "acme",
        schema: testSchema,
      });
      const plan = new PlanBuilder();
      plan.createNode(USER, "User", {
        1: create(ValueSchema, { kind: { case: "stringValue", value: `${name}@example.com` } }),
        2: create(ValueSchema, { kind: { case: "intValue", value: 2n ** 63n - 1n } }),
      });
      const { results, receipt } = await core.executePlan(plan.operations);
      const id = results[0]?.id ?? "";
      const node = await core.getNode({ typeId: USER, id });
      expect(node?.fields[2]?.kind).toEqual({ case: "intValue", value: 2n ** 63n - 1n });
      expect(receipt.applied).toBe(true);
      expect(fake.calls.slice(before).map((c) => [c.method, c.authorization])).toEqual([
        ["executePlan", "Bearer t-1"],
        ["getNode", "Bearer t-1"],
      ]);
    });
  }
});
