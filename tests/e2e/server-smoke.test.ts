import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const TEAM = 2;

describe("entdb serve (smoke)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  }, 60_000);
  afterAll(async () => {
    const code = await server.stop();
    removeDataDir(server.dataDir);
    expect(code).toBe(0);
  });

  it("creates a node over Connect/HTTP1.1 and reads it back over gRPC", async () => {
    const connect = createClient(
      EntDbService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    );
    const grpc = createClient(EntDbService, createGrpcTransport({ baseUrl: server.url }));
    const res = await connect.executePlan({
      tenant: "acme",
      idempotencyKey: "smoke-1",
      operations: [
        {
          op: {
            case: "createNode",
            value: {
              typeId: TEAM,
              fields: {
                1: { kind: { case: "stringValue", value: "Core" } },
                2: { kind: { case: "stringValue", value: "core" } },
              },
            },
          },
        },
      ],
    });
    expect(res.receipt?.applied).toBe(true);
    const id = res.results[0]?.id ?? "";
    const got = await grpc.getNode({
      tenant: "acme",
      typeId: TEAM,
      id,
      afterPosition: res.receipt?.position,
    });
    expect(got.node?.fields[1]?.kind).toEqual({ case: "stringValue", value: "Core" });
    expect(got.node?.owner).toBe("dev");
  });
});
