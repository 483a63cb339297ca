/**
 * Full-text search on 100k documents: p50 and p99 of a first page of 20 hits for
 * queries of different selectivity (a rare word, a common word, AND, a phrase, a prefix,
 * OR, NOT), ranked by bm25 with field weights, snippets included, for a member reading
 * a tenant whose documents are half private (the visibility term is in the SQL), and
 * for dev mode. Documents are Zipf-distributed words from a 5,000-word vocabulary,
 * inserted directly (this measures reads, not the applier). Run with
 * `node tests/bench/search-bench.ts [documents] [runs]`. Not a test: it prints numbers.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ReadScope } from "../../server/acl/read-scope.ts";
import { readScopeOf, UNRESTRICTED } from "../../server/acl/read-scope.ts";
import { toFtsMatch } from "../../server/search/search-query.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { openStore } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { prng } from "../prng.ts";
import { compile, lookupOf, served } from "../store/store-fixtures.ts";

const DOCS = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 200);
const VOCABULARY = 5_000;
const schema = compile(`package bench.search;

node Doc = 1 {
  title: string = 1 [required, searchable(weight = 3)];
  body: string = 2 [searchable];
}

node Memo = 2 [visibility = private] {
  title: string = 1 [required, searchable(weight = 3)];
  body: string = 2 [searchable];
}
`);

const syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pre", "dan", "gor", "lin"];
const words = Array.from({ length: VOCABULARY }, (_, i) => {
  let w = "";
  let n = i + 1;
  while (n > 0) {
    w += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length);
  }
  return w;
});
// Zipf: word of rank r drawn with probability ∝ 1/r, through the cumulative table.
const cumulative: number[] = [];
let total = 0;
for (let r = 1; r <= VOCABULARY; r++) {
  total += 1 / r;
  cumulative.push(total);
}
const rnd = prng(7);
const word = (): string => {
  const x = rnd() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return words[lo]!;
};
const text = (n: number): string => Array.from({ length: n }, word).join(" ");

const dir = mkdtempSync(join(tmpdir(), "entdb-search-bench-"));
try {
  const store = openStore({ dataDir: dir, schemas: lookupOf(served(1, schema)) });
  const db = store.tenant("bench", true)!;
  const me = "user:me";
  const started = process.hrtime.bigint();
  db.db.transaction(() => {
    db.db
      .prepare("INSERT INTO access_tenant (singleton, created_by, created_at) VALUES (1, ?, 0)")
      .run("user:root");
    db.db.prepare("INSERT INTO access_members VALUES ('user:owner', 'owner')").run();
    db.db.prepare("INSERT INTO access_members VALUES (?, 'member')").run(me);
    const node = db.db.prepare(
      "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, ?, 0, 0)",
    );
    for (let i = 0; i < DOCS; i++) {
      // Half Docs (every member reads them), half private Memos, one in four of them mine.
      const type = i % 2 === 0 ? 1 : 2;
      const owner = type === 2 && i % 8 === 1 ? me : "user:owner";
      const id = `n${String(i).padStart(7, "0")}`;
      node.run(id, type, JSON.stringify({ 1: text(6), 2: text(40) }), owner);
    }
    // Creates the full-text tables and fills them from the stored nodes, as a schema change does.
    db.migrateTo(schema);
  })();
  db.db.exec("ANALYZE");
  store.noteSchemaVersion(1);
  const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  const reader = createTenantReader(store);
  const member = readScopeOf(
    { id: me, groups: [] },
    readTenantAccess(db),
    BigInt(Date.now()) * 1000n,
  );
  const [common, second] = [words[0]!, words[1]!];
  const [mid, rare] = [words[200]!, words[3000]!];
  const queries: [string, string][] = [
    ["rare word", rare],
    ["mid-frequency word", mid],
    ["common word", common],
    ["two words (AND)", `${common} ${mid}`],
    ["phrase", `"${common} ${second}"`],
    ["prefix", `${mid.slice(0, 4)}*`],
    ["OR", `${rare} OR ${mid}`],
    ["NOT", `${mid} NOT ${words[20]!}`],
  ];
  const search = (query: string, scope: ReadScope) =>
    reader.search(
      "bench",
      {
        query,
        typeIds: [],
        filters: [],
        limit: 20,
        cursor: "",
        highlight: { start: "[", end: "]" },
        snippetTokens: 16,
      },
      scope,
    );
  const percentiles = (query: string, scope: ReadScope): { p50: number; p99: number } => {
    for (let i = 0; i < Math.min(10, RUNS); i++) search(query, scope);
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = process.hrtime.bigint();
      search(query, scope);
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!;
    return { p50: at(50), p99: at(99) };
  };
  const matches = (query: string): number =>
    Number(
      db.db
        .prepare(
          "SELECT (SELECT count(*) FROM fts_n1 WHERE fts_n1 MATCH ?) + (SELECT count(*) FROM fts_n2 WHERE fts_n2 MATCH ?)",
        )
        .pluck()
        .get(...[0, 1].map(() => matchOf(query))),
    );
  console.log(
    `${DOCS} documents (title 6 words, body 40, Zipf over ${VOCABULARY} words), loaded and indexed in ${loadSeconds.toFixed(1)} s; ${RUNS} runs per query; page of 20 with snippets\n`,
  );
  console.log(
    "| query | matching documents | member p50 (ms) | member p99 (ms) | dev mode p50 (ms) | dev mode p99 (ms) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [label, query] of queries) {
    const m = percentiles(query, member);
    const d = percentiles(query, UNRESTRICTED);
    console.log(
      `| ${label} \`${query}\` | ${matches(query)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${d.p50.toFixed(2)} | ${d.p99.toFixed(2)} |`,
    );
  }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function matchOf(query: string): string {
  // The bench counts matches with the same translation the server uses.
  return toFtsMatch(query);
}
