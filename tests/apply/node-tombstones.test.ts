/**
 * Tombstones of deleted nodes (store/node-tombstones.ts): who held the node in their
 * mailbox, pruning after the retention judged at each delete's ingress time, and the
 * horizon that tells a subscription which deletions lost theirs. Replaying the same
 * events gives the same rows.
 */

import { afterEach, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import {
  TOMBSTONE_RETENTION_DAYS,
  TOMBSTONE_RETENTION_MICROS,
  tombstonesPrunedBefore,
  wasInMailbox,
} from "../../server/store/node-tombstones.ts";
import { compile, op, served, T0_MS, v } from "../store/store-fixtures.ts";
import { type Harness, openHarness } from "./apply-harness.ts";

const SCHEMA = compile(`package test.tomb;

node User = 1 {
  principal: string = 1 [required, unique];
}

node Message = 2 {
  subject: string = 1 [required];
}

edge SentTo = 100 from Message to User [mailbox = principal];
`);
const USER = 1;
const MESSAGE = 2;
const SENT_TO = 100;
const TENANT = "tomb";
const DAY_MS = 86_400_000;

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

function harness(): Harness {
  const h = openHarness({ schemas: [served(1, SCHEMA)] });
  open.push(h);
  return h;
}

/** Users bob and carol, and messages m1..m3 sent to bob (m1, m2) and carol (m3), at T0. */
function seed(h: Harness): void {
  const { outcome } = h.plan(TENANT, "seed", [
    op.createNode(USER, "u-bob", { 1: v.str("user:bob") }),
    op.createNode(USER, "u-carol", { 1: v.str("user:carol") }),
    op.createNode(MESSAGE, "m1", { 1: v.str("one") }),
    op.createNode(MESSAGE, "m2", { 1: v.str("two") }),
    op.createNode(MESSAGE, "m3", { 1: v.str("three") }),
    op.createEdge(SENT_TO, "m1", "u-bob"),
    op.createEdge(SENT_TO, "m2", "u-bob"),
    op.createEdge(SENT_TO, "m3", "u-carol"),
  ]);
  expect(outcome?.failure).toBeUndefined();
}

function del(h: Harness, key: string, id: string, atMs: number): void {
  const { outcome } = h.plan(TENANT, key, [op.deleteNode(MESSAGE, id)], { atMs });
  expect(outcome?.failure).toBeUndefined();
}

function tombstones(h: Harness): string[] {
  const db = h.store.readTenant(TENANT)!;
  return (
    db.stmt("SELECT id, deleted_at FROM node_tombstones ORDER BY id").all() as {
      id: string;
      deleted_at: bigint;
    }[]
  ).map((r) => `${r.id}@${r.deleted_at}`);
}

function recipients(h: Harness): string[] {
  const db = h.store.readTenant(TENANT)!;
  return (
    db.stmt("SELECT node_id, recipient FROM node_tombstone_recipients ORDER BY 1, 2").all() as {
      node_id: string;
      recipient: string;
    }[]
  ).map((r) => `${r.node_id}:${r.recipient}`);
}

const micros = (ms: number) => BigInt(ms) * 1000n;

describe("node tombstones", () => {
  it("record the recipients whose mailbox held the deleted node", () => {
    const h = harness();
    seed(h);
    del(h, "d1", "m1", T0_MS);
    del(h, "d3", "m3", T0_MS);
    expect(recipients(h)).toEqual(["m1:user:bob", "m3:user:carol"]);
    expect(wasInMailbox(h.store, TENANT, "user:bob", "m1")).toBe(true);
    expect(wasInMailbox(h.store, TENANT, "user:carol", "m1")).toBe(false);
    expect(wasInMailbox(h.store, TENANT, "user:carol", "m3")).toBe(true);
    // The mailbox items themselves went with the nodes.
    const db = h.store.readTenant(TENANT)!;
    expect(db.stmt("SELECT node_id FROM mailbox_items ORDER BY 1").all()).toEqual([
      { node_id: "m2" },
    ]);
  });

  it(`are pruned ${TOMBSTONE_RETENTION_DAYS} days after their deletion, judged at a later delete's ingress time`, () => {
    const h = harness();
    seed(h);
    del(h, "d1", "m1", T0_MS);
    del(h, "d3", "m3", T0_MS + 2 * DAY_MS);
    expect(tombstonesPrunedBefore(h.store, TENANT)).toBeUndefined();
    // Exactly the retention after m1's deletion: not older than it yet, so kept.
    del(h, "d2", "m2", T0_MS + TOMBSTONE_RETENTION_DAYS * DAY_MS);
    expect(tombstones(h)).toEqual([
      `m1@${micros(T0_MS)}`,
      `m2@${micros(T0_MS + TOMBSTONE_RETENTION_DAYS * DAY_MS)}`,
      `m3@${micros(T0_MS + 2 * DAY_MS)}`,
    ]);
    expect(tombstonesPrunedBefore(h.store, TENANT)).toBeUndefined();

    const later = T0_MS + (TOMBSTONE_RETENTION_DAYS + 1) * DAY_MS;
    const { outcome } = h.plan(
      TENANT,
      "late",
      [op.createNode(MESSAGE, "m4", { 1: v.str("four") }), op.deleteNode(MESSAGE, "m4")],
      { atMs: later },
    );
    expect(outcome?.failure).toBeUndefined();
    expect(tombstones(h)).toEqual([
      `m2@${micros(T0_MS + TOMBSTONE_RETENTION_DAYS * DAY_MS)}`,
      `m3@${micros(T0_MS + 2 * DAY_MS)}`,
      `m4@${micros(later)}`,
    ]);
    expect(recipients(h)).toEqual(["m2:user:bob", "m3:user:carol"]);
    expect(tombstonesPrunedBefore(h.store, TENANT)).toBe(
      micros(later) - TOMBSTONE_RETENTION_MICROS,
    );
  });

  it("prune the same rows when the log is replayed", () => {
    const dumps = [0, 1].map(() => {
      const h = harness();
      seed(h);
      del(h, "d1", "m1", T0_MS);
      del(h, "d3", "m3", T0_MS + 3 * DAY_MS);
      del(h, "d2", "m2", T0_MS + 9 * DAY_MS);
      return canonicalDump(h.store.readTenant(TENANT)!);
    });
    expect(dumps[0]).toContain("rows node_tombstone_horizon (singleton, pruned_before)\n1 | ");
    expect(dumps[0]).toContain(
      'rows node_tombstone_recipients (node_id, recipient)\n"m2" | "user:bob"\n"m3" | "user:carol"\n',
    );
    expect(dumps[1]).toEqual(dumps[0]);
  });
});
