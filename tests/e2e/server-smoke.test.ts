import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SERVE_V8_FLAGS } from "../../server/cli/serve-runtime.ts";
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

  it("runs as the spawned process itself, restarted with its V8 settings (serve-runtime.ts)", () => {
    const pid = server.child.pid;
    expect(pid).toBeDefined();
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    for (const flag of SERVE_V8_FLAGS) expect(args).toContain(flag);
    expect(args).toContain("serve");
  });
});
