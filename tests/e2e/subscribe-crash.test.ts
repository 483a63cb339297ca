/**
 * A subscription survives SIGKILL of the server: a subscriber reads while writers load
 * the server, the server is killed at a random moment and restarted on the same data
 * dir, and the subscriber resumes after the last position it received. Round after
 * round, the changes it received are every Team the tenant holds (acknowledged or not),
 * each exactly once, in strictly increasing log order.
 */

import { afterAll, describe, expect, it } from "vitest";
import type { SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import { type EntDbClient, entDbClient, TRACKER } from "./e2e-helpers.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import { createdIds, teamCreate } from "./subscribe-helpers.ts";

const ROUNDS = 3;
const TENANT = "sub-crash";

/** Every Team id the tenant holds. */
async function allTeams(api: EntDbClient): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor = "";
  do {
    const page = await api.queryNodes({
      tenant: TENANT,
      typeId: TRACKER.team,
      limit: 1000,
      cursor,
    });
    for (const n of page.nodes) ids.add(n.id);
    cursor = page.nextCursor;
  } while (cursor !== "");
  return ids;
}

/** Reads `server`'s stream into `into` until it fails or `stop` aborts; resolves either way. */
async function subscribeInto(
  server: ServerProcess,
  after: LogPosition | undefined,
  into: SubscribeResponse[],
  signal: AbortSignal,
): Promise<void> {
  const api = entDbClient(server, { httpVersion: "2", binary: true });
  try {
    for await (const r of api.subscribe(
      after ? { tenant: TENANT, after } : { tenant: TENANT, fromStart: true },
      { signal },
    ))
      into.push(r);
  } catch {
    // The kill, or the abort: the test checks what arrived.
  }
}

describe("Subscribe across SIGKILL", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) removeDataDir(dir);
  });

  it(`resumes with no gap and no duplicate across ${ROUNDS} kills`, async () => {
    const dataDir = tempDataDir("entdb-subscribe-crash-");
    dirs.push(dataDir);
    const received: SubscribeResponse[] = [];
    let server = await startServerProcess({ dataDir });
    let slug = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const abort = new AbortController();
      const last = received.filter((r) => r.position).at(-1)?.position;
      const reading = subscribeInto(server, last, received, abort.signal);
      const api = entDbClient(server, { protocol: "grpc" });
      let acked = 0;
      let stopped = false;
      const writers = Array.from({ length: 4 }, async () => {
        while (!stopped) {
          try {
            await api.executePlan({ tenant: TENANT, operations: [teamCreate(`t-${slug++}`)] });
            acked++;
          } catch {
            return; // the kill
          }
        }
      });
      while (acked < 40) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      await server.kill();
      stopped = true;
      await Promise.all(writers);
      await reading;
      server = await startServerProcess({ dataDir });
    }

    // After the last restart, resume once more and read up to what the tenant holds.
    const api = entDbClient(server, { binary: true });
    const teams = await allTeams(api);
    const abort = new AbortController();
    const last = received.filter((r) => r.position).at(-1)?.position;
    const reading = subscribeInto(server, last, received, abort.signal);
    const deadline = Date.now() + 15_000;
    while (createdIds(received).length < teams.size && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // anything extra would show up now
    abort.abort();
    await reading;
    expect(await server.stop()).toBe(0);

    const ids = createdIds(received);
    expect(ids.length).toBeGreaterThanOrEqual(ROUNDS * 40);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(teams);
    const offsets = received.filter((r) => r.changes.length > 0).map((r) => r.position!.offset);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]!).toBeGreaterThan(offsets[i - 1]!);
  }, 120_000);
});
