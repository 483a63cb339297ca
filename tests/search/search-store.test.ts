/**
 * Full-text search against a real store fed through the applier: relevance on a small
 * fixed corpus, per-field weights, unicode folding and CJK, access filtering inside
 * SQL, structured filters and keyset pages, and the index after updates, deletes,
 * schema changes and replay.
 */

import { create } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { FilterOp, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import type { ReadScope } from "../../server/acl/read-scope.ts";
import { toFtsMatch } from "../../server/search/search-query.ts";
import { SNAPSHOT_MAX_HITS } from "../../server/search/search-snapshots.ts";
import type { SearchPage, SearchRequest } from "../../server/search/search-sql.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import { ftsState as fileFtsState } from "../store/fts-state.ts";
import {
  accessEvent,
  compile,
  op,
  schemaChangeEvent,
  served,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const SCHEMA = `package test.search;

node Ticket = 1 {
  title: string = 1 [required, searchable(weight = 3)];
  body: string = 2 [searchable];
  status: string = 3 [index];
  rank: int = 4 [index];
}

node Note = 2 [visibility = private] {
  text: string = 1 [searchable];
}

node Tag = 3 {
  label: string = 1;
}
`;
const V1 = served(1, compile(SCHEMA));
/** Version 2: Tag.label becomes searchable, Note.text stops being searchable. */
const V2 = served(
  2,
  compile(
    SCHEMA.replace("label: string = 1;", "label: string = 1 [searchable];").replace(
      "text: string = 1 [searchable];",
      "text: string = 1;",
    ),
  ),
);
const TENANT = "acme";
const TICKET = 1;
const NOTE = 2;
const TAG = 3;

const CORPUS: readonly [string, string, string, number][] = [
  ["t1", "Printer on fire", "Smoke everywhere near the printer", 5],
  ["t2", "Paper jam", "The printer has a paper jam and the fire alarm went off", 3],
  ["t3", "Fire drill", "Quarterly fire drill, no printer involved", 9],
  ["t4", "Résumé template", "Where is the RESUME template for new hires?", 1],
  ["t5", "会議室の予約", "東京都の会議室を予約する", 2],
  ["t6", "Coffee machine", "Descaling instructions", 7],
];

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

function open(dataDir?: string): Harness {
  const h = openHarness({
    schemas: [V1, V2],
    inMemory: true,
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  harnesses.push(h);
  return h;
}

function seed(h: Harness): void {
  h.plan(
    TENANT,
    "corpus",
    CORPUS.map(([id, title, body, rank]) =>
      op.createNode(TICKET, id, {
        1: v.str(title),
        2: v.str(body),
        3: v.str(rank > 4 ? "open" : "closed"),
        4: v.int(BigInt(rank)),
      }),
    ),
    { actor: "user:ada" },
  );
}

function search(h: Harness, query: string, extra: Partial<SearchRequest> = {}, scope?: ReadScope) {
  return h.reader.search(
    TENANT,
    {
      query,
      typeIds: [],
      filters: [],
      limit: 0,
      cursor: "",
      highlight: { start: "[", end: "]" },
      snippetTokens: 8,
      ...extra,
    },
    scope,
  );
}

const ids = (page: SearchPage) => page.hits.map((hit) => hit.node.id);

function member(actor: string): ReadScope {
  return {
    unrestricted: false,
    actor,
    principals: [actor, "role:member", "tenant:*"],
    atMicros: BigInt(Date.now()) * 1000n,
  };
}

describe("search relevance", () => {
  it("ranks by bm25 with the schema's weights: title matches first", () => {
    const h = open();
    seed(h);
    expect(ids(search(h, "printer fire"))).toEqual(["t1", "t3", "t2"]);
    expect(ids(search(h, "fire"))).toEqual(["t3", "t1", "t2"]);
    const page = search(h, "printer fire");
    expect(page.hits.map((hit) => hit.score > 0)).toEqual([true, true, true]);
    expect(page.hits[0]!.score).toBeGreaterThan(page.hits[1]!.score);
  });

  it("answers phrases, prefixes, OR and NOT", () => {
    const h = open();
    seed(h);
    expect(ids(search(h, '"paper jam"'))).toEqual(["t2"]);
    expect(ids(search(h, '"jam paper"'))).toEqual([]);
    expect(ids(search(h, "desc*"))).toEqual(["t6"]);
    expect(new Set(ids(search(h, "coffee OR jam")))).toEqual(new Set(["t6", "t2"]));
    expect(ids(search(h, "fire NOT drill"))).toEqual(["t1", "t2"]);
    expect(ids(search(h, "(printer OR coffee) NOT (fire OR jam)"))).toEqual(["t6"]);
  });

  it("snippets the fields that matched, with the caller's markers", () => {
    const h = open();
    seed(h);
    const [hit] = search(h, "paper").hits;
    expect(hit!.snippets).toEqual([
      { fieldId: 1, text: "[Paper] jam" },
      { fieldId: 2, text: "The printer has a [paper] jam and the…" },
    ]);
    const [phrase] = search(h, '"paper jam"', {
      highlight: { start: "<mark>", end: "</mark>" },
    }).hits;
    expect(phrase!.snippets.map((s) => s.text)).toEqual([
      "<mark>Paper jam</mark>",
      "The printer has a <mark>paper jam</mark> and the…",
    ]);
  });

  it("keeps stored text from forging highlights, and HTML-escapes it when asked", () => {
    const h = open();
    h.plan(TENANT, "hostile", [
      op.createNode(TICKET, "x1", {
        1: v.str("printer <script>alert(1)</script>"),
        2: v.str("fake \ue000mark\ue001 and <mark>fake</mark> & printer"),
      }),
    ]);
    const raw = search(h, "printer", { highlight: { start: "<mark>", end: "</mark>" } });
    expect(raw.hits[0]!.snippets).toEqual([
      { fieldId: 1, text: "<mark>printer</mark> <script>alert(1)</script>" },
      { fieldId: 2, text: "fake \ue000mark\ue001 and <mark>fake</mark> & <mark>printer</mark>" },
    ]);
    const html = search(h, "printer", {
      highlight: { start: "<mark>", end: "</mark>" },
      escape: "html",
    });
    expect(html.hits[0]!.snippets).toEqual([
      { fieldId: 1, text: "<mark>printer</mark> &lt;script&gt;alert(1)&lt;/script&gt;" },
      {
        fieldId: 2,
        text: "fake \ue000mark\ue001 and &lt;mark&gt;fake&lt;/mark&gt; &amp; <mark>printer</mark>",
      },
    ]);
    // Private-use characters are word characters to the tokenizer: "\ue000mark\ue001" is
    // one word, left as it is, and the matches next to HTML are marked inside it.
    const quoted = search(h, "mark", { escape: "html" });
    expect(quoted.hits[0]!.snippets.map((s) => s.text)).toEqual([
      "fake \ue000mark\ue001 and &lt;[mark]&gt;fake&lt;/[mark]&gt; &amp; printer",
    ]);
  });

  it("folds case and diacritics: résumé finds RESUME and resume finds Résumé", () => {
    const h = open();
    seed(h);
    expect(ids(search(h, "résumé"))).toEqual(["t4"]);
    expect(ids(search(h, "RESUME"))).toEqual(["t4"]);
    expect(search(h, "resume").hits[0]!.snippets).toEqual([
      { fieldId: 1, text: "[Résumé] template" },
      { fieldId: 2, text: "Where is the [RESUME] template for new hires?" },
    ]);
  });

  it("finds CJK words inside unspaced text, one or more characters long", () => {
    const h = open();
    seed(h);
    expect(ids(search(h, "東京"))).toEqual(["t5"]);
    expect(ids(search(h, "会議室"))).toEqual(["t5"]);
    expect(ids(search(h, "予約"))).toEqual(["t5"]);
    expect(ids(search(h, "京"))).toEqual(["t5"]);
    expect(ids(search(h, "京東"))).toEqual([]);
    expect(search(h, "東京").hits[0]!.snippets).toEqual([
      { fieldId: 2, text: "[東京]都の会議室を…" },
    ]);
  });
});

describe("search with filters, order and pages", () => {
  it("combines the query with QueryNodes' structured filters and order", () => {
    const h = open();
    seed(h);
    const open_ = create(FilterSchema, { fieldId: 3, op: FilterOp.EQ, values: [v.str("open")] });
    expect(ids(search(h, "printer OR fire", { typeIds: [TICKET], filters: [open_] }))).toEqual([
      "t1",
      "t3",
    ]);
    const byRank = search(h, "printer OR fire", {
      typeIds: [TICKET],
      orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 4, descending: false },
    });
    expect(ids(byRank)).toEqual(["t2", "t1", "t3"]);
  });

  it("pages by keyset without repeating or skipping, stable under writes when ordered by a field", () => {
    const h = open();
    seed(h);
    const order = { $typeName: "entdb.v1.OrderBy" as const, fieldId: 4, descending: false };
    const first = search(h, "printer OR fire OR jam", {
      typeIds: [TICKET],
      orderBy: order,
      limit: 2,
    });
    expect(ids(first)).toEqual(["t2", "t1"]);
    // A write between pages: a new hit before the cursor and one after it.
    h.plan(TENANT, "more", [
      op.createNode(TICKET, "t0", { 1: v.str("fire"), 4: v.int(0n) }),
      op.createNode(TICKET, "t9", { 1: v.str("fire"), 4: v.int(99n) }),
    ]);
    const second = search(h, "printer OR fire OR jam", {
      typeIds: [TICKET],
      orderBy: order,
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(ids(second)).toEqual(["t3", "t9"]);
    expect(second.nextCursor).toBe("");
  });

  it("walks relevance pages in (score, id) order to the end", () => {
    const h = open();
    seed(h);
    const all = ids(search(h, "printer OR fire OR jam OR coffee"));
    const walked: string[] = [];
    let cursor = "";
    do {
      const page = search(h, "printer OR fire OR jam OR coffee", { limit: 1, cursor });
      walked.push(...ids(page));
      cursor = page.nextCursor;
    } while (cursor !== "");
    expect(walked).toEqual(all);
    expect(all).toHaveLength(4);
  });

  it("walks relevance pages exactly while writes insert, update and delete hits between pages", () => {
    const h = open();
    // 40 tickets about printers, each scoring differently (1 to 40 words of padding).
    h.plan(
      TENANT,
      "many",
      Array.from({ length: 40 }, (_, i) =>
        op.createNode(TICKET, `p${String(i).padStart(2, "0")}`, {
          1: v.str(`printer ${"x ".repeat(i)}`),
          2: v.str(`body ${i}`),
        }),
      ),
    );
    const before = ids(search(h, "printer", { limit: 100 }));
    expect(before).toHaveLength(40);
    const seen: string[] = [];
    const deleted = new Set<string>();
    const updated = new Set<string>();
    let cursor = "";
    let round = 0;
    do {
      const page = search(h, "printer", { limit: 4, cursor });
      seen.push(...ids(page));
      for (const id of ids(page)) expect(deleted.has(id)).toBe(false);
      cursor = page.nextCursor;
      if (cursor !== "") expect(page.hits).toHaveLength(4);
      // Between pages: new documents that rank first, more documents that only match
      // weakly (both move bm25's statistics), an update of a hit not seen yet and a
      // deletion of another.
      round++;
      const unseen = before.filter((id) => !seen.includes(id) && !deleted.has(id));
      const ops = [
        op.createNode(TICKET, `new${round}`, { 1: v.str("printer printer printer") }),
        ...Array.from({ length: 5 }, (_, i) =>
          op.createNode(TICKET, `pad${round}-${i}`, { 1: v.str(`printer ${"y ".repeat(60)}`) }),
        ),
      ];
      const [toUpdate, toDelete] = [unseen[unseen.length - 1], unseen[unseen.length - 2]];
      if (toUpdate && !updated.has(toUpdate)) {
        ops.push(op.updateNode(TICKET, toUpdate, { 1: v.str("printer printer") }));
        updated.add(toUpdate);
      }
      if (toDelete && !updated.has(toDelete)) {
        ops.push(op.deleteNode(TICKET, toDelete));
        deleted.add(toDelete);
      }
      h.plan(TENANT, `between-${round}`, ops);
    } while (cursor !== "");
    // No hit twice; every hit of the first page's moment that was not deleted, once.
    expect(new Set(seen).size).toBe(seen.length);
    expect(deleted.size).toBeGreaterThan(3);
    const kept = before.filter((id) => !deleted.has(id) && !updated.has(id));
    expect(kept.filter((id) => !seen.includes(id))).toEqual([]);
    // The walk is the first page's ranking, less what was deleted: nothing created later.
    expect(seen).toEqual(before.filter((id) => !deleted.has(id)));
  });

  it("ends a relevance walk after the best SNAPSHOT_MAX_HITS hits", () => {
    const h = open();
    h.plan(
      TENANT,
      "bulk",
      Array.from({ length: SNAPSHOT_MAX_HITS + 5 }, (_, i) =>
        op.createNode(TICKET, `b${i}`, { 1: v.str(`printer ${"z ".repeat(i % 7)}`) }),
      ),
    );
    const sizes: number[] = [];
    let cursor = "";
    do {
      const page = search(h, "printer", { limit: 400, cursor });
      sizes.push(page.hits.length);
      cursor = page.nextCursor;
    } while (cursor !== "");
    expect(sizes).toEqual([400, 400, SNAPSHOT_MAX_HITS - 800]);
  });

  it("answers FAILED_PRECONDITION for a relevance cursor whose ranked hits are gone", () => {
    const h = open();
    seed(h);
    const page = search(h, "printer OR fire", { limit: 1 });
    const other = open();
    seed(other);
    let error: unknown;
    try {
      search(other, "printer OR fire", { limit: 1, cursor: page.nextCursor });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({
      name: "StoreError",
      code: "failed-precondition",
      message:
        "The search cursor expired: its ranked hits are kept 10 minutes after the last page was read, by the server that made them. Start again without a cursor.",
    });
    // Another caller cannot borrow the cursor either.
    expect(() =>
      search(h, "printer OR fire", { limit: 1, cursor: page.nextCursor }, member("user:bob")),
    ).toThrow("The search cursor expired");
  });

  it("refuses a cursor from another query, and filters across types", () => {
    const h = open();
    seed(h);
    const page = search(h, "printer OR fire", { limit: 1 });
    expect(() => search(h, "printer", { limit: 1, cursor: page.nextCursor })).toThrow(
      "The cursor is not valid for this request: it was made for another query (type, filters or order differ). Start again without a cursor.",
    );
    const f = create(FilterSchema, { fieldId: 3, op: FilterOp.EQ, values: [v.str("open")] });
    expect(() => search(h, "fire", { filters: [f] })).toThrow(
      "Filters and order_by apply to one node type: set exactly one type id, or search without them.",
    );
    expect(() => search(h, "fire", { typeIds: [TAG] })).toThrow(
      "Node type Tag (id 3) has no searchable field; mark a string field `searchable` in the schema to search it.",
    );
    expect(() => search(h, "fire", { typeIds: [42] })).toThrow(
      "The schema has no node type with id 42.",
    );
    expect(() => search(h, 'fire "open')).toThrow(
      `Search query: A '"' is never closed (at position 5).`,
    );
  });
});

describe("search and access", () => {
  it("never returns, ranks or snippets a node the caller may not read", () => {
    const h = open();
    seed(h);
    h.plan(
      TENANT,
      "notes",
      [op.createNode(NOTE, "n-ada", { 1: v.str("ada's secret printer password") })],
      { actor: "user:ada" },
    );
    h.plan(
      TENANT,
      "notes-bob",
      [op.createNode(NOTE, "n-bob", { 1: v.str("bob's printer notes") })],
      { actor: "user:bob" },
    );
    const ada = member("user:ada");
    const bob = member("user:bob");
    expect(ids(search(h, "printer", { typeIds: [NOTE] }, ada))).toEqual(["n-ada"]);
    expect(ids(search(h, "printer", { typeIds: [NOTE] }, bob))).toEqual(["n-bob"]);
    expect(ids(search(h, "secret", {}, bob))).toEqual([]);
    expect(ids(search(h, "password OR secret", {}, bob))).toEqual([]);
    // A page of one: bob's walk over "printer" never stops on ada's note.
    const walked: string[] = [];
    let cursor = "";
    do {
      const page = search(h, "printer", { limit: 1, cursor }, bob);
      walked.push(...ids(page));
      for (const hit of page.hits)
        for (const s of hit.snippets) expect(s.text).not.toContain("secret");
      cursor = page.nextCursor;
    } while (cursor !== "");
    expect(walked.sort()).toEqual(["n-bob", "t1", "t2", "t3"]);
    // Shared with bob, ada's note becomes a hit for him.
    h.run([
      {
        tenant: TENANT,
        payload: accessEvent(TENANT, "share", {
          case: "share",
          value: { nodeId: "n-ada", principal: "user:bob", capability: "read" },
        }),
      },
    ]);
    expect(ids(search(h, "secret", {}, bob))).toEqual(["n-ada"]);
  });
});

describe("relevance pages and access between pages", () => {
  it("drops from later pages a hit the caller may no longer read, keeping pages full", () => {
    const h = open();
    // Bob's own notes rank first (the word twice); ada's, shared with bob, last.
    h.plan(
      TENANT,
      "bob-notes",
      Array.from({ length: 4 }, (_, i) =>
        op.createNode(NOTE, `nb${i}`, { 1: v.str(`printer printer note ${"q ".repeat(i)}`) }),
      ),
      { actor: "user:bob" },
    );
    h.plan(
      TENANT,
      "ada-notes",
      [
        op.createNode(NOTE, "na1", { 1: v.str(`printer ${"w ".repeat(30)}`) }),
        op.createNode(NOTE, "na2", { 1: v.str(`printer ${"w ".repeat(31)}`) }),
      ],
      { actor: "user:ada" },
    );
    for (const node of ["na1", "na2"]) {
      h.run([
        {
          tenant: TENANT,
          payload: accessEvent(TENANT, `share-${node}`, {
            case: "share",
            value: { nodeId: node, principal: "user:bob", capability: "read" },
          }),
        },
      ]);
    }
    const bob = member("user:bob");
    const first = search(h, "printer", { typeIds: [NOTE], limit: 3 }, bob);
    expect(ids(first)).toEqual(["nb0", "nb1", "nb2"]);
    expect(ids(search(h, "printer", { typeIds: [NOTE] }, bob))).toEqual([
      "nb0",
      "nb1",
      "nb2",
      "nb3",
      "na1",
      "na2",
    ]);
    h.run([
      {
        tenant: TENANT,
        payload: accessEvent(TENANT, "revoke-na1", {
          case: "revoke",
          value: { nodeId: "na1", principal: "user:bob" },
        }),
      },
    ]);
    const second = search(
      h,
      "printer",
      { typeIds: [NOTE], limit: 3, cursor: first.nextCursor },
      bob,
    );
    expect(ids(second)).toEqual(["nb3", "na2"]);
    expect(second.nextCursor).toBe("");
  });
});

describe("the full-text index as derived state", () => {
  it("follows updates, deletes and schema changes that add or remove searchable", () => {
    const h = open();
    seed(h);
    h.plan(TENANT, "upd", [op.updateNode(TICKET, "t6", { 1: v.str("Espresso printer") })]);
    expect(ids(search(h, "coffee"))).toEqual([]);
    expect(ids(search(h, "espresso"))).toEqual(["t6"]);
    h.plan(TENANT, "clear", [op.updateNode(TICKET, "t6", {}, { clear: [2] })]);
    expect(ids(search(h, "descaling"))).toEqual([]);
    h.plan(TENANT, "del", [op.deleteNode(TICKET, "t1")]);
    expect(ids(search(h, "smoke"))).toEqual([]);
    h.plan(TENANT, "tag", [op.createNode(TAG, "g1", { 1: v.str("printer hardware") })]);
    h.plan(TENANT, "note", [op.createNode(NOTE, "n1", { 1: v.str("printer memo") })]);
    expect(ids(search(h, "hardware"))).toEqual([]);
    expect(ids(search(h, "memo"))).toEqual(["n1"]);
    h.run([{ tenant: TENANT, payload: schemaChangeEvent(TENANT, V2) }]);
    expect(ids(search(h, "hardware"))).toEqual(["g1"]);
    expect(ids(search(h, "memo"))).toEqual([]);
    expect(() => search(h, "memo", { typeIds: [NOTE] })).toThrow("has no searchable field");
  });

  it("rebuilds the same full-text index when the log is replayed in other batches", async () => {
    const h = open();
    seed(h);
    h.plan(TENANT, "upd", [op.updateNode(TICKET, "t2", { 2: v.str("a different body") })]);
    h.plan(TENANT, "del", [op.deleteNode(TICKET, "t4")]);
    h.plan(TENANT, "tag", [op.createNode(TAG, "g1", { 1: v.str("printer hardware 東京") })]);
    h.run([{ tenant: TENANT, payload: schemaChangeEvent(TENANT, V2) }]);
    h.plan(TENANT, "tag2", [op.createNode(TAG, "g2", { 1: v.str("Ünïcode label") })], {
      schemaVersion: 2,
    });
    // The harness applies a record before its append is durable: read the log only after.
    await h.appended();
    const entries = (await import("../../server/wal/read-wal.ts")).readWalToEnd(h.wal);
    const records = (await entries).flat();
    const hits = (harness: Harness) =>
      ["printer", "body", "hardware", "東京", "unicode"].map((q) => ids(search(harness, q)));
    const hitsBefore = hits(h);
    const before = ftsState(h.store.tenantPath(TENANT), h);
    const dir = tempDir("search-replay", true);
    try {
      // One batch where the log was applied one event at a time: other transaction
      // boundaries, hence another segment layout, and the same index.
      const again = open(dir.path);
      again.run(records.map((e) => ({ tenant: e.tenant, payload: e.payload })));
      expect(hits(again)).toEqual(hitsBefore);
      const after = ftsState(again.store.tenantPath(TENANT), again);
      expect(Object.keys(after).sort()).toEqual([
        "fts_n1 averages",
        "fts_n1 instances",
        "fts_n1_config",
        "fts_n1_content",
        "fts_n1_docsize",
        "fts_n3 averages",
        "fts_n3 instances",
        "fts_n3_config",
        "fts_n3_content",
        "fts_n3_docsize",
      ]);
      // t1's title and body, t3's body; t2 lost its body's to the update.
      expect(after["fts_n1 instances"]?.filter((row) => row.startsWith("printer|"))).toHaveLength(
        3,
      );
      expect(after).toEqual(before);
    } finally {
      dir.remove();
    }
  });
});

describe("the query translation against FTS5", () => {
  it("never makes FTS5 fail: every accepted query runs, every other is refused first", () => {
    const db = new Database(":memory:");
    db.exec("CREATE VIRTUAL TABLE t USING fts5(a, tokenize = 'unicode61 remove_diacritics 2')");
    db.prepare("INSERT INTO t(a) VALUES (?)").run("printer fire résumé 東京");
    const alphabet = fc.constantFrom(
      ...'ab "()*:^-+{}NEAR'.split(""),
      "AND",
      "OR",
      "NOT",
      " AND ",
      " OR ",
      " NOT ",
      "東",
      "é",
      "\u0000",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 20 }), (parts) => {
        let match: string;
        try {
          match = toFtsMatch(parts.join(""));
        } catch (err) {
          expect((err as Error).name).toBe("SearchQueryError");
          return;
        }
        db.prepare("SELECT rowid FROM t WHERE t MATCH ?").all(match);
      }),
      { numRuns: 2000 },
    );
    db.close();
  });
});

/** The full-text state of a tenant file (tests/store/fts-state.ts), after closing the harness's handle. */
function ftsState(path: string, h: Harness): Record<string, string[]> {
  h.store.close();
  return fileFtsState(path);
}
