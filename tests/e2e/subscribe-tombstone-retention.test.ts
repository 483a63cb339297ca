/**
 * A subscription whose history reaches a deletion older than the tombstone retention
 * (docs/subscriptions.md, "Deletions and retention") against a real `entdb serve`:
 * the stream ends with OUT_OF_RANGE instead of leaving the deletion out, and a resume
 * past it streams on. The ingress times of a real server are its clock, so the events
 * are appended to its log while it is stopped, dated days apart.
 */

import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeKind, type SubscribeResponse } from "../../generated/entdb/v1/entdb_pb.js";
import { TOMBSTONE_RETENTION_DAYS } from "../../server/store/node-tombstones.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalPosition } from "../../server/wal/wal.ts";
import { op, planEvent, T0_MS, v } from "../store/store-fixtures.ts";
import { connectError, type EntDbClient, entDbClient, TRACKER, teamPlan } from "./e2e-helpers.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";
import { readUntil } from "./subscribe-helpers.ts";

const TENANT = "tomb-retention";
const DAY_MS = 86_400_000;
const dataDir = tempDataDir("entdb-tomb-");
let server: ServerProcess;
/** Positions of: the old team's creation, its deletion, the late team's creation and deletion. */
let positions: WalPosition[] = [];

const team = (id: string, slug: string) =>
  op.createNode(TRACKER.team, id, {
    [TRACKER.teamName]: v.str(slug),
    [TRACKER.teamSlug]: v.str(slug),
  });

beforeAll(async () => {
  server = await startServerProcess({ dataDir });
  await entDbClient(server).executePlan(teamPlan(TENANT, "first"));
  expect(await server.stop()).toBe(0);
  const wal = await openEmbeddedWal({ path: join(dataDir, "wal.sqlite") });
  const late = T0_MS + (TOMBSTONE_RETENTION_DAYS + 1) * DAY_MS;
  try {
    positions = [];
    for (const [key, operations, atMs] of [
      ["old-create", [team("team-old", "old")], T0_MS],
      ["old-delete", [op.deleteNode(TRACKER.team, "team-old")], T0_MS],
      ["late-create", [team("team-late", "late")], late],
      ["late-delete", [op.deleteNode(TRACKER.team, "team-late")], late],
    ] as const) {
      const [position] = await wal.append([
        { tenant: TENANT, payload: planEvent(TENANT, key, [...operations], { atMs }) },
      ]);
      positions.push(position!);
    }
  } finally {
    await wal.close();
  }
  server = await startServerProcess({ dataDir });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  removeDataDir(dataDir);
});

const deletions = (rs: readonly SubscribeResponse[]) =>
  rs.flatMap((r) => r.changes.filter((c) => c.kind === ChangeKind.NODE_DELETED));

type SubscribeInit = Parameters<EntDbClient["subscribe"]>[0];

async function firstError(request: SubscribeInit) {
  return connectError(
    (async () => {
      for await (const _ of entDbClient(server).subscribe(request)) {
        // Read until the stream ends.
      }
    })(),
  );
}

describe("a subscription past the tombstone retention", () => {
  it("ends with OUT_OF_RANGE when its history reaches a pruned deletion", async () => {
    const [created, deleted] = positions;
    const at = (p: WalPosition) => ({ partition: p.partition, offset: BigInt(p.offset) });
    const message = `The resume position is older than the retained history: the deletion at ${deleted!.partition}:${deleted!.offset} of tenant '${TENANT}' is older than the ${TOMBSTONE_RETENTION_DAYS} days its tombstone is kept, so who may be told of it is no longer known. Subscribe without \`after\` and \`from_start\` (from now) and read the current state again.`;
    const requests: SubscribeInit[] = [
      { tenant: TENANT, after: at(created!) },
      { tenant: TENANT, fromStart: true },
      {
        tenant: TENANT,
        after: at(created!),
        filters: [{ kind: { case: "nodeTypeId", value: TRACKER.team } }],
      },
    ];
    for (const request of requests) {
      const err = await firstError(request);
      expect([err.code, err.rawMessage]).toEqual([Code.OutOfRange, message]);
    }
  });

  it("streams on when resumed past the pruned deletion, or filtered to other types", async () => {
    const [, deleted, , lateDelete] = positions;
    const abort = new AbortController();
    const got: SubscribeResponse[] = [];
    try {
      await readUntil(
        entDbClient(server).subscribe(
          {
            tenant: TENANT,
            after: { partition: deleted!.partition, offset: BigInt(deleted!.offset) },
          },
          { signal: abort.signal },
        ),
        got,
        (rs) => deletions(rs).length > 0,
      );
    } finally {
      abort.abort();
    }
    expect(deletions(got).map((c) => c.nodeId)).toEqual(["team-late"]);
    expect(got.find((r) => r.changes.length > 0)?.position?.offset).toBe(
      BigInt(lateDelete!.offset),
    );

    // A selection the pruned deletion is not part of never needs its tombstone.
    const users = new AbortController();
    const quiet: SubscribeResponse[] = [];
    try {
      await readUntil(
        entDbClient(server).subscribe(
          {
            tenant: TENANT,
            fromStart: true,
            filters: [{ kind: { case: "nodeTypeId", value: TRACKER.user } }],
          },
          { signal: users.signal },
        ),
        quiet,
        (rs) => rs.some((r) => r.changes.length === 0),
      );
    } finally {
      users.abort();
    }
    expect(quiet.flatMap((r) => r.changes)).toEqual([]);
  });
});
