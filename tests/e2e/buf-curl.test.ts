/**
 * Standard tooling against a real `entdb serve` (DESIGN.md contract 3): `buf curl`
 * discovers every service by server reflection, with no .proto on disk, and calls the
 * typed per-schema services over gRPC and Connect.
 */

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CommandResult, runCommand, serverPerFile } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";

const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");
const GRPC = ["--protocol", "grpc", "--http2-prior-knowledge"];

const server = serverPerFile();

/** Runs `buf curl` in an empty working dir (so no .proto can be picked up). */
function bufCurl(args: readonly string[]): Promise<CommandResult> {
  return runCommand(BUF, ["curl", ...args], { cwd: server.dataDir, timeout: 30_000 });
}

interface TypedResult {
  readonly node: {
    readonly id: string;
    readonly version: string;
    readonly fields: Record<string, unknown>;
  };
  readonly receipt: { readonly applied: boolean };
}

/** Calls a typed service with `buf curl`, expecting nothing on stderr; resolves with the result. */
async function typedCall(args: readonly string[]): Promise<TypedResult> {
  const res = await bufCurl(args);
  expect(res.stderr).toBe("");
  return JSON.parse(res.stdout) as TypedResult;
}

describe("buf curl by reflection", () => {
  it("lists the API, the schema's typed services, health and reflection", async () => {
    const res = await bufCurl(["--list-services", ...GRPC, server.url]);
    expect(res.code).toBe(0);
    expect(res.stdout.trim().split("\n")).toEqual([
      "acme.tracker.AssignedToService",
      "acme.tracker.BlockedByService",
      "acme.tracker.CommentService",
      "acme.tracker.MemberOfService",
      "acme.tracker.ProjectService",
      "acme.tracker.SubtaskOfService",
      "acme.tracker.TaskService",
      "acme.tracker.TeamService",
      "acme.tracker.UserService",
      "acme.tracker.WatchesService",
      "entdb.v1.EntDbService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
    ]);
  }, 30_000);

  it("reports SERVING from grpc.health.v1.Health/Check", async () => {
    const res = await bufCurl([...GRPC, "-d", "{}", `${server.url}/grpc.health.v1.Health/Check`]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ status: "SERVING" });
  }, 30_000);

  it("creates through typed services over gRPC and Connect with the entdb-tenant header", async () => {
    const tenant = ["-H", "entdb-tenant: buf-typed"];
    const teamOut = await typedCall([
      ...GRPC,
      ...tenant,
      "-d",
      JSON.stringify({ fields: { name: "Core", slug: "core" } }),
      `${server.url}/acme.tracker.TeamService/Create`,
    ]);
    expect(teamOut.node.fields).toEqual({ name: "Core", slug: "core" });
    expect(teamOut.node.version).toBe("1");
    expect(teamOut.receipt.applied).toBe(true);

    const projectOut = await typedCall([
      ...tenant,
      "-d",
      JSON.stringify({ fields: { team: teamOut.node.id, key: "WEB", name: "Website" } }),
      `${server.url}/acme.tracker.ProjectService/Create`,
    ]);
    expect(projectOut.node.fields).toEqual({
      team: teamOut.node.id,
      key: "WEB",
      name: "Website",
      archived: false,
    });

    const taskOut = await typedCall([
      ...GRPC,
      ...tenant,
      "-d",
      JSON.stringify({
        fields: { project: projectOut.node.id, number: "9223372036854775807", title: "Ship" },
      }),
      `${server.url}/acme.tracker.TaskService/Create`,
    ]);
    expect(taskOut.node.fields).toMatchObject({
      project: projectOut.node.id,
      number: "9223372036854775807",
      title: "Ship",
    });

    const got = await bufCurl([
      ...tenant,
      "-d",
      JSON.stringify({ id: taskOut.node.id }),
      `${server.url}/acme.tracker.TaskService/Get`,
    ]);
    expect((JSON.parse(got.stdout) as TypedResult).node).toEqual(taskOut.node);
  }, 60_000);

  it("rejects a typed call without the entdb-tenant header, saying so", async () => {
    const res = await bufCurl([
      ...GRPC,
      "-d",
      JSON.stringify({ fields: { name: "X", slug: "x" } }),
      `${server.url}/acme.tracker.TeamService/Create`,
    ]);
    expect(res.code).not.toBe(0);
    const err = JSON.parse(res.stderr) as { code: string; message: string };
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toBe(
      "Typed services take the tenant from the 'entdb-tenant' header; set it.",
    );
  }, 30_000);

  it("calls the generic API by reflection too", async () => {
    const res = await bufCurl([
      ...GRPC,
      "-d",
      "{}",
      `${server.url}/entdb.v1.EntDbService/GetSchema`,
    ]);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { package: string; version: number };
    expect(out.package).toBe("acme.tracker");
    expect(out.version).toBe(1);
  }, 30_000);
});
