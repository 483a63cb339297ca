/**
 * The runtime's `watch` iterator against a real `entdb serve` (docs/subscriptions.md):
 * the generated client's `db.team.watch()` yields typed changes, resumes by itself after
 * the server is SIGKILLed and restarted and after the server cut a stalled reader off,
 * each time without a gap or a duplicate, and stops on `break` and on an abort signal.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../../runtime/node.ts";
import type { NodeChange } from "../../runtime/v1.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import {
  type GeneratedTrackerClient,
  loadTrackerClient,
  type NodeRow,
  type TrackerClient,
} from "./tracker-client.ts";

/**
 * One event: a subscription is cut off as soon as two events wait for it, so the stalled
 * reader below is cut off whatever the client's HTTP/2 buffers take in, and every test
 * here also runs through cut-offs and resumes.
 */
const BUFFER = 1;
const dataDir = tempDataDir("entdb-watch-");
let server: ServerProcess;
let port = 0;
let generated: GeneratedTrackerClient;

async function start(): Promise<void> {
  server = await startServerProcess({
    dataDir,
    env: { ENTDB_SUBSCRIBER_BUFFER: String(BUFFER) },
    // The same port after a restart, so the client's transport reconnects to it.
    ...(port === 0 ? {} : { args: ["--port", String(port)] }),
  });
  if (port === 0) port = server.port;
}

beforeAll(async () => {
  generated = await loadTrackerClient();
  await start();
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  generated?.dispose();
  removeDataDir(dataDir);
});

function client(tenant: string): TrackerClient {
  return generated.createClient({
    transport: createNodeTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
    tenant,
  });
}

/** Collects changes in the background until `count` arrived, then breaks out. */
function collect(
  changes: AsyncIterable<NodeChange<NodeRow>>,
  count: number,
  gate: () => Promise<void> = async () => {},
): { readonly got: NodeChange<NodeRow>[]; readonly done: Promise<void> } {
  const got: NodeChange<NodeRow>[] = [];
  const done = (async () => {
    for await (const change of changes) {
      await gate();
      got.push(change);
      if (got.length === count) break;
    }
  })();
  return { got, done };
}

describe("watch", () => {
  it("yields typed created, updated and deleted changes of one type", async () => {
    const db = client("watch-typed");
    const abort = new AbortController();
    const { got, done } = collect(db.team.watch({ signal: abort.signal, fromStart: true }), 3);
    const { id } = await db.team.create({ name: "Core", slug: "core" });
    await db.user.create({
      email: "ada@example.com",
      displayName: "Ada",
      handle: "ada",
      joinedAt: new Date(0),
    });
    await db.team.update(id, { name: "Core team" });
    await db.team.delete(id);
    await done;
    expect(got.map((c) => [c.kind, c.id])).toEqual([
      ["created", id],
      ["updated", id],
      ["deleted", id],
    ]);
    // A node reads as it is when the change is sent (typed), a deletion has none.
    expect(got[0]!.node?.["slug"]).toBe("core");
    expect(got[0]!.node?.id).toBe(id);
    expect(got[2]!.node).toBeUndefined();
  });

  it("resumes by itself after the server cut a stalled reader off", async () => {
    const db = client("watch-stalled");
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const total = 300;
    const { got, done } = collect(db.team.watch({}), total, () => released);
    await new Promise((r) => setTimeout(r, 200)); // the subscription is live
    const description = "x".repeat(16_000);
    const ids: string[] = [];
    for (let i = 0; i < total; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          db.team.create({ name: `s${i + j}`, slug: `s${i + j}`, description }),
        ),
      );
      ids.push(...batch.map((r) => r.id));
    }
    release();
    await done;
    expect(new Set(got.map((c) => c.id))).toEqual(new Set(ids));
    expect(got).toHaveLength(total);
    // The server did cut the reader off, and logged it as a warning, not an error.
    expect(server.logs()).toContain("subscription cut off: it fell behind the log");
    expect(server.logs()).not.toContain('"level":"error"');
  }, 60_000);

  it("resumes by itself across a SIGKILL of the server, with no gap and no duplicate", async () => {
    const db = client("watch-kill");
    const { got, done } = collect(db.team.watch({ fromStart: true }), 10);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await db.team.create({ name: `a${i}`, slug: `a${i}` })).id);
    while (got.length < 5) await new Promise((r) => setTimeout(r, 10));
    await server.kill();
    await start();
    for (let i = 0; i < 5; i++)
      ids.push((await db.team.create({ name: `b${i}`, slug: `b${i}` })).id);
    await done;
    expect(got.map((c) => c.id)).toEqual(ids);
    expect(got.map((c) => c.kind)).toEqual(Array(10).fill("created"));
    const offsets = got.map((c) => c.position.offset);
    expect(offsets).toEqual([...offsets].sort((x, y) => Number(x - y)));
  }, 60_000);

  it("ends without an error when its signal aborts", async () => {
    const db = client("watch-abort");
    const abort = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const change of db.team.watch({ signal: abort.signal })) seen.push(change.id);
    })();
    await new Promise((r) => setTimeout(r, 100));
    abort.abort();
    await expect(loop).resolves.toBeUndefined();
    expect(seen).toEqual([]);
  });
});
