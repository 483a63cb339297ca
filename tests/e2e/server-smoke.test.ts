import { describe, expect, it } from "vitest";
import { entDbClient, serverPerFile, teamOp } from "./e2e-helpers.ts";

const TEAM = 2;

describe("entdb serve (smoke)", () => {
  const server = serverPerFile();

  it("creates a node over Connect/HTTP1.1 and reads it back over gRPC", async () => {
    const connect = entDbClient(server, { httpVersion: "1.1" });
    const grpc = entDbClient(server, { protocol: "grpc" });
    const res = await connect.executePlan({
      tenant: "acme",
      idempotencyKey: "smoke-1",
      operations: [teamOp("Core", "core")],
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
