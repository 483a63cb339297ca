/**
 * Standard tooling against a real `entdb serve` (DESIGN.md contract 3): `buf curl`
 * discovers every service by server reflection, with no .proto on disk, and calls the
 * typed per-schema services over gRPC and Connect.
 */

import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const root = join(import.meta.dirname, "..", "..");
const BUF = join(root, "node_modules", ".bin", "buf");
const GRPC = ["--protocol", "grpc", "--http2-prior-knowledge"];

let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess();
}, 60_000);

afterAll(async () => {
  if (!server) return;
  const code = await server.stop();
  removeDataDir(server.dataDir);
  expect(code).toBe(0);
});

/** Runs `buf curl` in an empty working dir (so no .proto can be picked up). */
function bufCurl(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      BUF,
      ["curl", ...args],
      { cwd: server.dataDir, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface TypedResult {
  readonly node: {
    readonly id: string;
    readonly version: string;
    readonly fields: Record<string, unknown>;
  };
  readonly receipt: { readonly applied: boolean };
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
    const team = await bufCurl([
      ...GRPC,
      ...tenant,
      "-d",
      JSON.stringify({ fields: { name: "Core", slug: "core" } }),
      `${server.url}/acme.tracker.TeamService/Create`,
    ]);
    expect(team.stderr).toBe("");
    const teamOut = JSON.parse(team.stdout) as TypedResult;
    expect(teamOut.node.fields).toEqual({ name: "Core", slug: "core" });
    expect(teamOut.node.version).toBe("1");
    expect(teamOut.receipt.applied).toBe(true);

    const project = await bufCurl([
      ...tenant,
      "-d",
      JSON.stringify({ fields: { team: teamOut.node.id, key: "WEB", name: "Website" } }),
      `${server.url}/acme.tracker.ProjectService/Create`,
    ]);
    expect(project.stderr).toBe("");
    const projectOut = JSON.parse(project.stdout) as TypedResult;
    expect(projectOut.node.fields).toEqual({
      team: teamOut.node.id,
      key: "WEB",
      name: "Website",
      archived: false,
    });

    const task = await bufCurl([
      ...GRPC,
      ...tenant,
      "-d",
      JSON.stringify({
        fields: { project: projectOut.node.id, number: "9223372036854775807", title: "Ship" },
      }),
      `${server.url}/acme.tracker.TaskService/Create`,
    ]);
    expect(task.stderr).toBe("");
    const taskOut = JSON.parse(task.stdout) as TypedResult;
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
