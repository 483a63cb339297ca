/**
 * Heartbeats on idle `Subscribe` streams (docs/subscriptions.md, "Checkpoints"): a live
 * stream with nothing to send gets a checkpoint after each quiet interval
 * (`ENTDB_SUBSCRIBER_HEARTBEAT_MS`, short here), carrying the freshest position, and the
 * runtime's `watch` iterator takes it without yielding anything.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import { type SubscribeCall, watchChanges } from "../../runtime/watch.ts";
import { entDbClient, serverPerFile, str, TRACKER } from "./e2e-helpers.ts";
import { positionText, readUntil, teamCreate } from "./subscribe-helpers.ts";

const HEARTBEAT_MS = 300;
const server = serverPerFile({ env: { ENTDB_SUBSCRIBER_HEARTBEAT_MS: String(HEARTBEAT_MS) } });

describe("Subscribe heartbeats", () => {
  it("sends an idle stream a checkpoint with the current position every interval", async () => {
    const tenant = "heartbeat";
    const api = entDbClient(server, { binary: true });
    const written = await api.executePlan({ tenant, operations: [teamCreate("a")] });
    const abort = new AbortController();
    // Only member_of edges: the Team writes below select nothing, so only checkpoints arrive.
    const stream = api.subscribe(
      { tenant, filters: [{ kind: { case: "edgeTypeId", value: TRACKER.memberOf } }] },
      { signal: abort.signal },
    );
    const got: SubscribeResponse[] = [];
    const started = Date.now();
    await readUntil(stream, got, (r) => r.length === 3, 10_000);
    const idle = Date.now() - started;
    const at = `${written.receipt!.position!.partition}:${written.receipt!.position!.offset}`;
    // The checkpoint on catching up, then two heartbeats, each at the tenant's position.
    expect(got.map((r) => [r.changes.length, positionText(r)])).toEqual([
      [0, at],
      [0, at],
      [0, at],
    ]);
    expect(idle).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS - 50);
    // A write that selects nothing moves the next heartbeat's position on.
    const later = await api.executePlan({ tenant, operations: [teamCreate("b")] });
    const laterAt = `${later.receipt!.position!.partition}:${later.receipt!.position!.offset}`;
    await readUntil(stream, got, (r) => positionText(r[r.length - 1]!) === laterAt, 10_000);
    abort.abort();
    expect(got.slice(3).every((r) => r.changes.length === 0)).toBe(true);
  });

  it("keeps watch() iterating through heartbeats, and resumes from a heartbeat's position", async () => {
    const tenant = "heartbeat-watch";
    const api = entDbClient(server, { binary: true });
    const watched = (await api.executePlan({ tenant, operations: [teamCreate("watched")] }))
      .results[0]!.id;
    const requests: string[] = [];
    let responses = 0;
    // The first connection breaks (UNAVAILABLE) after four responses, all checkpoints or
    // heartbeats; watch() resumes after the last position they carried.
    const subscribe: SubscribeCall = async function* (request, signal) {
      requests.push(
        request.after ? `after ${request.after.partition}:${request.after.offset}` : "now",
      );
      let here = 0;
      for await (const r of api.subscribe(request, { signal })) {
        responses++;
        yield r;
        if (requests.length === 1 && ++here === 4)
          throw new ConnectError("connection reset", Code.Unavailable);
      }
    };
    const abort = new AbortController();
    const changes = watchChanges(tenant, subscribe, { nodeIds: [watched], signal: abort.signal });
    const next = changes.next();
    // A write the watch does not select: only checkpoints carry its position.
    const other = (await api.executePlan({ tenant, operations: [teamCreate("other")] })).receipt!
      .position!;
    for (const deadline = Date.now() + 10_000; requests.length < 2 && Date.now() < deadline; )
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests).toEqual(["now", `after ${other.partition}:${other.offset}`]);
    const renamed = await api.executePlan({
      tenant,
      operations: [
        {
          op: {
            case: "updateNode",
            value: {
              typeId: TRACKER.team,
              id: watched,
              set: { [TRACKER.teamName]: str("renamed") },
            },
          },
        },
      ],
    });
    const change = await next;
    abort.abort();
    expect([change.value?.kind, change.value?.nodeId, change.value?.position]).toEqual([
      "nodeUpdated",
      watched,
      {
        partition: renamed.receipt!.position!.partition,
        offset: renamed.receipt!.position!.offset,
      },
    ]);
    expect(responses).toBeGreaterThanOrEqual(5);
  });
});
