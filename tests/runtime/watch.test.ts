/**
 * The runtime's `watch` iterator (runtime/watch.ts) against scripted streams: what it
 * asks the server for on each (re)connect, when it resumes and when it gives up, and
 * that `break` cancels the call. The end-to-end behaviour against a real server is in
 * tests/e2e/watch.test.ts.
 */

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  ChangeKind,
  EntDbService,
  type SubscribeRequestSchema,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import {
  EntDbClientCore,
  InvalidArgumentError,
  type SubscribeCall,
  watchChanges,
} from "../../runtime/v1.ts";

type Request = MessageInitShape<typeof SubscribeRequestSchema>;
type Step = SubscribeResponse | ConnectError;

function created(offset: number, nodeId: string): SubscribeResponse {
  return create(SubscribeResponseSchema, {
    position: { partition: 3, offset: BigInt(offset) },
    changes: [{ kind: ChangeKind.NODE_CREATED, typeId: 1, nodeId }],
  });
}

function checkpoint(offset?: number): SubscribeResponse {
  return create(
    SubscribeResponseSchema,
    offset === undefined ? {} : { position: { partition: 3, offset: BigInt(offset) } },
  );
}

/** A server that plays one script per call and records each request and its signal. */
function scripted(...scripts: Step[][]) {
  const requests: Request[] = [];
  const signals: AbortSignal[] = [];
  const call: SubscribeCall = (request, signal) => {
    requests.push(request);
    signals.push(signal);
    const script = scripts.shift() ?? [];
    return (async function* () {
      for (const step of script) {
        if (step instanceof ConnectError) throw step;
        yield step;
      }
      // Then stay open until the caller stops.
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve());
      });
    })();
  };
  return { call, requests, signals };
}

async function take(iterator: AsyncGenerator<{ nodeId: string }>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const change of iterator) {
    out.push(change.nodeId);
    if (out.length === n) break;
  }
  return out;
}

describe("watchChanges", () => {
  it("resumes after the last position it was sent, checkpoints included", async () => {
    const server = scripted(
      [created(5, "a"), created(6, "b"), new ConnectError("gone", Code.Unavailable)],
      [checkpoint(9), new ConnectError("cut off", Code.ResourceExhausted)],
      [created(10, "c")],
    );
    const ids = await take(
      watchChanges("acme", server.call, { nodeTypeIds: [1], fromStart: true }),
      3,
    );
    expect(ids).toEqual(["a", "b", "c"]);
    const filters = [{ kind: { case: "nodeTypeId", value: 1 } }];
    expect(server.requests).toEqual([
      { tenant: "acme", filters, fromStart: true },
      { tenant: "acme", filters, after: { partition: 3, offset: 6n } },
      { tenant: "acme", filters, after: { partition: 3, offset: 9n } },
    ]);
    // `break` cancelled the last call.
    expect(server.signals.map((s) => s.aborted)).toEqual([true, true, true]);
  });

  it("reconnects from the start when it broke before the tenant's first event", async () => {
    const server = scripted(
      [checkpoint(), new ConnectError("gone", Code.Unavailable)],
      [created(0, "first")],
    );
    expect(await take(watchChanges("acme", server.call), 1)).toEqual(["first"]);
    expect(server.requests).toEqual([
      { tenant: "acme", filters: [], fromStart: false },
      { tenant: "acme", filters: [], fromStart: true },
    ]);
  });

  it("throws a refusal at once, and gives up after maxReconnects failures in a row", async () => {
    const refused = scripted([new ConnectError("bad filter", Code.InvalidArgument)]);
    await expect(take(watchChanges("acme", refused.call), 1)).rejects.toThrow("bad filter");
    expect(refused.requests).toHaveLength(1);

    const down = new ConnectError("down", Code.Unavailable);
    const away = scripted([down], [down], [down]);
    await expect(take(watchChanges("acme", away.call, { maxReconnects: 2 }), 1)).rejects.toBe(down);
    expect(away.requests).toHaveLength(3);
  });

  it("ends without an error when its signal aborts", async () => {
    const server = scripted([created(1, "a")]);
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const change of watchChanges("acme", server.call, { signal: abort.signal })) {
      seen.push(change.nodeId);
      abort.abort();
    }
    expect(seen).toEqual(["a"]);
    expect(server.signals[0]!.aborted).toBe(true);
  });
});

describe("EntDbClientCore.watch", () => {
  it("sends the client's token on the stream and maps a refusal to a typed error", async () => {
    const seen: (string | null)[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(EntDbService, {
        async *subscribe(_request, ctx) {
          seen.push(ctx.requestHeader.get("authorization"));
          yield created(1, "a");
          throw new ConnectError("`filters[0]` sets nothing", Code.InvalidArgument);
        },
      });
    });
    const core = new EntDbClientCore({ transport, tenant: "acme", token: "t0ken" });
    const ids: string[] = [];
    const error = await (async () => {
      for await (const change of core.watch()) ids.push(change.nodeId);
    })().catch((err: unknown) => err);
    expect(ids).toEqual(["a"]);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(seen).toEqual(["Bearer t0ken"]);
  });
});
