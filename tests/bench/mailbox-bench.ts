/**
 * Mailbox fan-out: applying one write that sends a message to a group of 5,000 members
 * (one node, one `mailbox` edge, 5,000 items in the same transaction), against the same
 * write to one recipient; then a recipient's reads of a mailbox that holds every message:
 * a ListMailbox page of 50 and its unread counts. Plans run through the applier's plan
 * executor in a transaction, as the applier runs them; the group members are inserted
 * directly. Run with `node tests/bench/mailbox-bench.ts [members] [messages]`. Not a
 * test: it prints numbers and asserts nothing beyond the counts it relies on.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { WritePlanSchema } from "../../generated/entdb/v1/wal_pb.js";
import { UNRESTRICTED } from "../../server/acl/read-scope.ts";
import { executePlan } from "../../server/apply/plan-executor.ts";
import { openStore } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { compile, lookupOf, served } from "../store/store-fixtures.ts";

const MEMBERS = Number(process.argv[2] ?? 5_000);
const MESSAGES = Number(process.argv[3] ?? 20);
const schema = compile(`package bench.mailbox;

node Inbox = 1 {
  principal: string = 1 [required, unique];
}

node Message = 2 {
  subject: string = 1 [required];
}

edge SentTo = 100 from Message to Inbox [mailbox = principal];
`);

const dir = mkdtempSync(join(tmpdir(), "entdb-mailbox-bench-"));
try {
  const store = openStore({ dataDir: dir, schemas: lookupOf(served(1, schema)) });
  const db = store.tenant("bench", true)!;
  db.migrateTo(schema);
  store.noteSchemaVersion(1);
  db.db.transaction(() => {
    db.db.prepare("INSERT INTO access_groups VALUES ('group:all')").run();
    const member = db.db.prepare("INSERT INTO access_group_members VALUES ('group:all', ?)");
    for (let i = 0; i < MEMBERS; i++) member.run(`user:u${String(i).padStart(5, "0")}`);
    const inbox = db.db.prepare(
      "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 1, ?, 1, 'user:root', 0, 0)",
    );
    inbox.run("group-all", JSON.stringify({ 1: "group:all" }));
    inbox.run("one", JSON.stringify({ 1: "user:u00000" }));
  })();

  let seq = 0;
  /** Applies one message to inbox `to` in its own transaction; returns milliseconds. */
  const send = (to: string): number => {
    const id = `m${String(seq++).padStart(6, "0")}`;
    const plan = create(WritePlanSchema, {
      operations: [
        {
          op: {
            case: "createNode",
            value: { typeId: 2, id, fields: { 1: { kind: { case: "stringValue", value: id } } } },
          },
        },
        { op: { case: "createEdge", value: { edgeTypeId: 100, fromId: id, toId: to } } },
      ],
    });
    const start = process.hrtime.bigint();
    db.db.transaction(() =>
      executePlan({ db, schema, actor: "user:root", nowMicros: BigInt(seq) }, plan),
    )();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  };
  send("group-all"); // warm-up
  const toGroup: number[] = [];
  const toOne: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    toGroup.push(send("group-all"));
    toOne.push(send("one"));
  }
  const items = db.db
    .prepare("SELECT count(*) AS n FROM mailbox_items WHERE recipient = 'user:u00001'")
    .get() as { n: number };
  if (Number(items.n) !== MESSAGES + 1)
    throw new Error(`user:u00001 has ${items.n} items, not ${MESSAGES + 1}`);

  const reader = createTenantReader(store);
  const time = (fn: () => void, runs: number): number => {
    for (let i = 0; i < 50; i++) fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1e3 / runs;
  };
  const query = {
    recipient: "user:u00000",
    unreadOnly: false,
    typeIds: [],
    includeArchived: false,
    starredOnly: false,
    limit: 50,
    cursor: "",
  };
  const list = time(() => reader.mailbox("bench", query, UNRESTRICTED), 2_000);
  const counts = time(() => reader.mailboxUnreadCounts("bench", "user:u00000"), 2_000);

  console.log(`group of ${MEMBERS} members; ${MESSAGES} messages of each kind\n`);
  console.log("| write (applied in one transaction) | p50 (ms) | p99 (ms) |");
  console.log("| --- | ---: | ---: |");
  console.log(
    `| message to a group of ${MEMBERS} | ${pct(toGroup, 50).toFixed(2)} | ${pct(toGroup, 99).toFixed(2)} |`,
  );
  console.log(
    `| message to one recipient | ${pct(toOne, 50).toFixed(3)} | ${pct(toOne, 99).toFixed(3)} |`,
  );
  console.log(`\n| read of a mailbox of ${2 * MESSAGES + 1} items | µs |`);
  console.log("| --- | ---: |");
  console.log(`| ListMailbox page of 50 | ${list.toFixed(1)} |`);
  console.log(`| unread counts | ${counts.toFixed(1)} |`);
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
