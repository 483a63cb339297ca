/**
 * Idempotency keys against a real `entdb serve` (DESIGN.md contracts 6 and 7): a
 * retried key returns the first outcome and ids and writes nothing new, a rejected
 * first attempt is rejected again identically, and `no_wait` plans report their
 * outcome through WaitForPosition and GetReceipt.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import {
  connectError,
  countNodes,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  teamOp,
} from "./e2e-helpers.ts";

const TEAM = 2;

const server = serverPerFile();
let api: EntDbClient;

beforeAll(() => {
  api = entDbClient(server, { httpVersion: "2", binary: true });
});

describe("idempotency keys", () => {
  it("answers a repeated key with the first ids and writes nothing twice", async () => {
    const tenant = "idem-replay";
    const request = {
      tenant,
      idempotencyKey: "create-two-teams",
      operations: [teamOp("A", "a"), teamOp("B", "b")],
    };
    const first = await api.executePlan(request);
    const second = await api.executePlan(request);
    expect(first.receipt?.applied).toBe(true);
    expect(first.receipt?.replayed).toBe(false);
    expect(second.receipt?.applied).toBe(true);
    expect(second.receipt?.replayed).toBe(true);
    expect(second.receipt?.idempotencyKey).toBe("create-two-teams");
    expect(second.receipt?.position).toEqual(first.receipt?.position);
    expect(second.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    expect(first.results.map((r) => r.version)).toEqual([1n, 1n]);
    expect(await countNodes(api, tenant)).toBe(2);
  });

  it("refuses a key reused with a different plan, and still answers the first plan", async () => {
    const tenant = "idem-different-body";
    const first = await api.executePlan({
      tenant,
      idempotencyKey: "k",
      operations: [teamOp("A", "a")],
    });
    const reused = await connectError(
      api.executePlan({ tenant, idempotencyKey: "k", operations: [teamOp("Z", "z")] }),
    );
    const at = `${first.receipt?.position?.partition}:${first.receipt?.position?.offset}`;
    expect(reused.code).toBe(Code.FailedPrecondition);
    expect(reused.rawMessage).toBe(
      `Idempotency key 'k' was already used for a different plan (logged at ${at}); a key names one plan. Send a new key for a new plan, or the same plan to get its outcome.`,
    );
    const same = await api.executePlan({
      tenant,
      idempotencyKey: "k",
      operations: [teamOp("A", "a")],
    });
    expect(same.receipt?.replayed).toBe(true);
    expect(same.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    const nodes = (await api.queryNodes({ tenant, typeId: TEAM })).nodes;
    expect(nodes.map((n) => n.fields[2]?.kind.value)).toEqual(["a"]);
  });

  it("refuses the loser of two different plans sent at once under one key", async () => {
    const tenant = "idem-race";
    const send = (name: string) =>
      api.executePlan({ tenant, idempotencyKey: "race", operations: [teamOp(name, name)] }).then(
        () => "ok",
        (err: unknown) => Code[ConnectError.from(err).code],
      );
    const answers = await Promise.all([send("x"), send("y")]);
    expect(answers.sort()).toEqual(["FailedPrecondition", "ok"]);
    expect(await countNodes(api, tenant)).toBe(1);
  });

  it("keeps keys per tenant", async () => {
    await api.executePlan({
      tenant: "idem-t1",
      idempotencyKey: "same",
      operations: [teamOp("A", "a")],
    });
    const other = await api.executePlan({
      tenant: "idem-t2",
      idempotencyKey: "same",
      operations: [teamOp("A", "a")],
    });
    expect(other.receipt?.replayed).toBe(false);
    expect(await countNodes(api, "idem-t2")).toBe(1);
  });

  it("rejects a retried key whose first attempt was rejected with the same error", async () => {
    const tenant = "idem-rejected";
    await api.executePlan({ tenant, operations: [teamOp("Taken", "taken")] });
    const request = { tenant, idempotencyKey: "dup-slug", operations: [teamOp("Again", "taken")] };
    const first = await connectError(api.executePlan(request));
    const second = await connectError(api.executePlan(request));
    expect(first.code).toBe(Code.AlreadyExists);
    expect(second.code).toBe(Code.AlreadyExists);
    expect(second.rawMessage).toBe(first.rawMessage);
    const [d1] = first.findDetails(WriteFailureSchema);
    const [d2] = second.findDetails(WriteFailureSchema);
    expect(d1).toMatchObject({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      operationIndex: 0,
      typeId: TEAM,
      fieldId: 2,
    });
    expect(d2).toEqual(d1);
    // Even after the conflict is gone, the key keeps its recorded outcome.
    const receipt = await api.getReceipt({ tenant, idempotencyKey: "dup-slug" });
    expect(receipt.failure).toMatchObject({ reason: "UNIQUE_VIOLATION", fieldId: 2 });
    expect(receipt.results).toEqual([]);
    expect(await countNodes(api, tenant)).toBe(1);
  });

  it("returns a no_wait plan unapplied, then WaitForPosition and GetReceipt show the outcome", async () => {
    const tenant = "idem-no-wait";
    const res = await api.executePlan({
      tenant,
      idempotencyKey: "later",
      noWait: true,
      operations: [teamOp("Later", "later")],
    });
    expect(res.receipt?.applied).toBe(false);
    expect(res.receipt?.replayed).toBe(false);
    expect(res.results).toEqual([]);
    const position = res.receipt?.position;
    expect(position).toBeDefined();
    const waited = await api.waitForPosition({ tenant, position, timeoutMs: 10_000 });
    expect(waited.reached).toBe(true);
    expect(waited.applied?.offset).toBeGreaterThanOrEqual(position?.offset ?? 0n);
    const receipt = await api.getReceipt({ tenant, idempotencyKey: "later" });
    expect(receipt.receipt).toMatchObject({ applied: true, idempotencyKey: "later", tenant });
    expect(receipt.receipt?.position).toEqual(position);
    expect(receipt.failure).toBeUndefined();
    expect(receipt.results).toHaveLength(1);
    const id = receipt.results[0]?.id ?? "";
    const node = await api.getNode({ tenant, typeId: TEAM, id });
    expect(node.node?.fields[1]?.kind).toEqual({ case: "stringValue", value: "Later" });
  });

  it("ends a WaitForPosition at the call's deadline with DEADLINE_EXCEEDED, not at its own timeout", async () => {
    const tenant = "idem-wait-deadline";
    const res = await api.executePlan({ tenant, operations: [teamOp("Now", "now")] });
    const at = res.receipt?.position;
    expect(at).toBeDefined();
    // The next event of the partition: not logged yet, so the wait has to wait.
    const next = { partition: at?.partition ?? 0, offset: String((at?.offset ?? 0n) + 1n) };
    const started = Date.now();
    const answer = await fetch(`${server.url}/entdb.v1.EntDbService/WaitForPosition`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        "connect-timeout-ms": "300",
      },
      body: JSON.stringify({ tenant, position: next, timeoutMs: 20_000 }),
    });
    const body = (await answer.json()) as { code?: string };
    expect(body.code).toBe("deadline_exceeded");
    expect(Date.now() - started).toBeLessThan(5_000);
    // The deadline ended that call's wait only: a wait for a position applied answers.
    const waited = await api.waitForPosition({ tenant, position: at, timeoutMs: 1_000 });
    expect(waited.reached).toBe(true);
  });

  it("reports a no_wait plan's rejection through GetReceipt", async () => {
    const tenant = "idem-no-wait-rejected";
    await api.executePlan({ tenant, operations: [teamOp("X", "x")] });
    const res = await api.executePlan({
      tenant,
      idempotencyKey: "doomed",
      noWait: true,
      operations: [teamOp("Y", "x")],
    });
    expect(res.receipt?.applied).toBe(false);
    const waited = await api.waitForPosition({
      tenant,
      position: res.receipt?.position,
      timeoutMs: 10_000,
    });
    expect(waited.reached).toBe(true);
    const receipt = await api.getReceipt({ tenant, idempotencyKey: "doomed" });
    expect(receipt.failure).toMatchObject({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      typeId: TEAM,
      fieldId: 2,
    });
    expect(await countNodes(api, tenant)).toBe(1);
  });

  it("answers GetReceipt for an unknown key with not_found", async () => {
    const err = await connectError(api.getReceipt({ tenant: "idem-none", idempotencyKey: "nope" }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe(
      "No applied plan with idempotency key 'nope' in tenant 'idem-none' (it may not be applied yet).",
    );
  });

  it("applies concurrent sends of one key exactly once", async () => {
    const tenant = "idem-concurrent";
    const request = { tenant, idempotencyKey: "race", operations: [teamOp("R", "r")] };
    const results = await Promise.all(Array.from({ length: 8 }, () => api.executePlan(request)));
    const ids = new Set(results.map((r) => r.results[0]?.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.receipt?.replayed === false)).toHaveLength(1);
    expect(await countNodes(api, tenant)).toBe(1);
  });

  it("answers a large plan sent at once under one key with one set of ids, and refuses another", async () => {
    const tenant = "idem-large";
    const teams = (prefix: string) =>
      Array.from({ length: 40 }, (_, i) => teamOp(`${prefix}${i}`, `${prefix}-${i}`));
    const request = { tenant, idempotencyKey: "large", operations: teams("t") };
    const results = await Promise.all(Array.from({ length: 4 }, () => api.executePlan(request)));
    const first = results.find((r) => r.receipt?.replayed === false);
    expect(results.filter((r) => r.receipt?.replayed === false)).toHaveLength(1);
    expect(first?.results).toHaveLength(40);
    for (const r of results) expect(r.results).toEqual(first?.results);
    expect(new Set(first?.results.map((r) => r.id)).size).toBe(40);
    const other = await connectError(
      api.executePlan({ tenant, idempotencyKey: "large", operations: teams("u") }),
    );
    expect(other.code).toBe(Code.FailedPrecondition);
    const nodes = (await api.queryNodes({ tenant, typeId: TEAM, limit: 100 })).nodes;
    expect(nodes.map((n) => n.id).sort()).toEqual(first?.results.map((r) => r.id).sort());
    expect(nodes.map((n) => n.fields[2]?.kind.value).sort()).toEqual(
      Array.from({ length: 40 }, (_, i) => `t-${i}`).sort(),
    );
  });
});
