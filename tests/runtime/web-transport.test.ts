/**
 * The browser transport over a `fetch` that fails the way browsers fail ("Failed to
 * fetch"): the client sees UnavailableError and retries with the same idempotency key,
 * as docs/client.md promises.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { EntDbClientCore, PlanBuilder, UnavailableError } from "../../runtime/v1.ts";
import { createWebTransport } from "../../runtime/web.ts";
import { testSchema, USER } from "./test-schema.ts";

/** A fetch that rejects `failures` times, then answers ExecutePlan; records request bodies. */
function flakyFetch(failures: number) {
  const bodies: Uint8Array[] = [];
  let calls = 0;
  const fetch = async (_url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    calls++;
    bodies.push(new Uint8Array(await new Response(init?.body ?? null).arrayBuffer()));
    if (calls <= failures) throw new TypeError("Failed to fetch");
    const sent = fromBinary(
      ExecutePlanRequestSchema,
      bodies[bodies.length - 1] ?? new Uint8Array(),
    );
    const res = create(ExecutePlanResponseSchema, {
      receipt: {
        tenant: sent.tenant,
        applied: true,
        idempotencyKey: sent.idempotencyKey,
        position: { partition: 0, offset: 0n },
        schemaVersion: 1,
      },
      results: [{ id: "n1", created: true, version: 1n }],
    });
    return new Response(toBinary(ExecutePlanResponseSchema, res), {
      status: 200,
      headers: { "content-type": "application/proto" },
    });
  };
  return { fetch: fetch as typeof globalThis.fetch, bodies, calls: () => calls };
}

function client(fetch: typeof globalThis.fetch, maxAttempts: number) {
  return new EntDbClientCore({
    transport: createWebTransport({ baseUrl: "http://127.0.0.1:9", fetch }),
    tenant: "acme",
    schema: testSchema,
    retry: { maxAttempts, initialDelayMs: 0, maxDelayMs: 0 },
  });
}

function plan() {
  const p = new PlanBuilder();
  p.createNode(USER, "User", {});
  return p.operations;
}

describe("createWebTransport", () => {
  it("reports a fetch that keeps failing as UnavailableError after the retries", async () => {
    const f = flakyFetch(Number.POSITIVE_INFINITY);
    const err = await client(f.fetch, 3)
      .executePlan(plan())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).message).toContain(
      "could not reach the server at http://127.0.0.1:9/entdb.v1.EntDbService/ExecutePlan (Failed to fetch)",
    );
    expect(f.calls()).toBe(3);
  });

  it("retries a failed fetch with the same idempotency key until it goes through", async () => {
    const f = flakyFetch(2);
    await client(f.fetch, 4).executePlan(plan());
    expect(f.calls()).toBe(3);
    const keys = f.bodies.map((b) => fromBinary(ExecutePlanRequestSchema, b).idempotencyKey);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("leaves a call the caller aborted as it is", async () => {
    const f = flakyFetch(Number.POSITIVE_INFINITY);
    const abort = new AbortController();
    abort.abort();
    const err = await client(f.fetch, 3)
      .executePlan(plan(), { signal: abort.signal })
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(UnavailableError);
    expect(f.calls()).toBeLessThanOrEqual(1);
  });
});
