/**
 * Full-text search against a real `entdb serve` (the tracker example): the generated
 * client's `db.task.search` and cross-type `db.search`, `EntDbService/Search` with its
 * INVALID_ARGUMENT answers, and `buf curl` on the typed `TaskService/Search` found by
 * reflection.
 */

import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../../runtime/node.ts";
import type { SchemaMeta } from "../../runtime/schema-meta.ts";
import { type ClientBase, createTypedClient } from "../../runtime/typed-client.ts";
import { InvalidArgumentError } from "../../runtime/v1.ts";
import { connectError, entDbClient, runCommand, serverPerFile, TRACKER } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";
import {
  type GeneratedTrackerClient,
  loadTrackerClient,
  type TrackerClient,
} from "./tracker-client.ts";

const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");
const TENANT = "search-e2e";

const server = serverPerFile();
let generated: GeneratedTrackerClient;
let db: TrackerClient;

beforeAll(async () => {
  generated = await loadTrackerClient();
  db = generated.createClient({
    transport: createNodeTransport({ baseUrl: server.url, protocol: "connect" }),
    tenant: TENANT,
    retry: false,
  });
  await db.atomic((plan) => {
    const team = plan.team.create({ name: "Printer fleet", slug: "fleet" });
    const project = plan.project.create({ team, key: "OPS", name: "Office printers" });
    const tasks: [string, string, "todo" | "done"][] = [
      ["Printer on fire", "Smoke is coming out of the printer", "todo"],
      ["Paper jam", "The printer has a paper jam; the fire alarm went off too", "done"],
      ["Fire drill", "Quarterly fire drill, no printer involved", "todo"],
      ["Résumé template", "Where is the RESUME template?", "todo"],
      ["会議室の予約", "東京都の会議室を予約する", "todo"],
    ];
    tasks.forEach(([title, body, status], i) => {
      plan.task.create({ project, number: i + 1, title, body, status });
    });
    return { team, project };
  });
}, 60_000);

afterAll(() => generated?.dispose());

describe("search through the generated client", () => {
  it("ranks a type's hits with snippets, and filters by structured fields", async () => {
    // Title and body weigh the same in the tracker, so two fires and a printer in
    // "Fire drill" outrank one of each in "Printer on fire" (weights: tests/search).
    const page = await db.task.search("printer fire");
    expect(page.items.map((hit) => hit.node["title"])).toEqual([
      "Fire drill",
      "Printer on fire",
      "Paper jam",
    ]);
    expect(page.items[1]!.snippets).toEqual({
      title: "[Printer] on [fire]",
      body: "Smoke is coming out of the [printer]",
    });
    const todo = await db.task.search("printer fire", { where: { status: "todo" } });
    expect(todo.items.map((hit) => hit.node["title"])).toEqual(["Fire drill", "Printer on fire"]);
    const folded = await db.task.search("resume", { highlight: { start: "<b>", end: "</b>" } });
    expect(folded.items.map((hit) => hit.snippets)).toEqual([
      { title: "<b>Résumé</b> template", body: "Where is the <b>RESUME</b> template?" },
    ]);
    const cjk = await db.task.search("東京");
    expect(cjk.items.map((hit) => hit.node["title"])).toEqual(["会議室の予約"]);
  });

  it("HTML-escapes stored text in snippets when asked, and stored marks forge nothing", async () => {
    // A tenant of its own, so the other tests' bm25 statistics stay as they are.
    const kitchen = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url, protocol: "connect" }),
      tenant: `${TENANT}-html`,
      retry: false,
    });
    await kitchen.atomic((plan) => {
      const team = plan.team.create({ name: "Kitchen", slug: "kitchen" });
      const project = plan.project.create({ team, key: "KIT", name: "Kitchen things" });
      plan.task.create({
        project,
        number: 1,
        title: "Kettle <script>alert(1)</script>",
        body: "Descale the kettle & the \ue000tap\ue001 <mark>now</mark>",
        status: "todo",
      });
      return {};
    });
    const highlight = { start: "<mark>", end: "</mark>" };
    const html = await kitchen.task.search("kettle", { highlight, escape: "html" });
    expect(html.items.map((hit) => hit.snippets)).toEqual([
      {
        title: "<mark>Kettle</mark> &lt;script&gt;alert(1)&lt;/script&gt;",
        body: "Descale the <mark>kettle</mark> &amp; the \ue000tap\ue001 &lt;mark&gt;now&lt;/mark&gt;",
      },
    ]);
    const raw = await kitchen.task.search("kettle", { highlight });
    expect(raw.items[0]!.snippets["body"]).toBe(
      "Descale the <mark>kettle</mark> & the \ue000tap\ue001 <mark>now</mark>",
    );
  });

  it("pages with next", async () => {
    const first = await db.task.search("printer OR fire", { limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await db.task.search("printer OR fire", { limit: 2, after: first.next });
    expect(second.next).toBeUndefined();
    expect([...first.items, ...second.items].map((hit) => hit.node["title"])).toEqual([
      "Fire drill",
      "Printer on fire",
      "Paper jam",
    ]);
  });

  it("searches across types with db.search", async () => {
    const page = await db.search("printer*");
    const hits = page.items.map((hit) => [hit.type, hit.node["name"] ?? hit.node["title"]]);
    // The project and the team score the same (one two-word name each); creation order breaks the tie.
    expect(hits.slice(0, 2)).toEqual([
      ["task", "Printer on fire"],
      ["task", "Fire drill"],
    ]);
    expect(hits.slice(2, 4).sort()).toEqual([
      ["project", "Office printers"],
      ["team", "Printer fleet"],
    ]);
    expect(hits[4]).toEqual(["task", "Paper jam"]);
    const scores = page.items.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const onlyTeams = await db.search("printer*", { types: ["team"] });
    expect(onlyTeams.items.map((hit) => hit.type)).toEqual(["team"]);
  });

  it("keeps a hit of a type the client does not know on db.search's page, by type id", async () => {
    // A client of an older schema: it knows tasks only, not the team and the project.
    const older: SchemaMeta = {
      package: "acme.tracker",
      nodes: { task: { id: 4, name: "Task", fields: { title: { id: 3, kind: "string" } } } },
      edges: {},
    };
    const old = createTypedClient<ClientBase<unknown>>(older, {
      transport: createNodeTransport({ baseUrl: server.url }),
      tenant: TENANT,
    });
    const page = await old.search("printer*", { limit: 5 });
    const hits = page.items.map((hit) => [hit.type, hit.node["title"]]);
    expect(hits.slice(0, 2)).toEqual([
      ["task", "Printer on fire"],
      ["task", "Fire drill"],
    ]);
    expect(hits.slice(2, 4).sort()).toEqual([
      [`type ${TRACKER.team}`, undefined],
      ["type 3", undefined],
    ]);
    expect(page.items[2]?.snippets).toEqual({});
    expect(hits[4]).toEqual(["task", "Paper jam"]);
  });

  it("refuses a malformed query with INVALID_ARGUMENT naming the problem", async () => {
    const err = await db.task.search('printer "unclosed').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(
      `Search query: A '"' is never closed (at position 8).`,
    );
  });
});

describe("EntDbService/Search", () => {
  it("answers INVALID_ARGUMENT for each malformed query", async () => {
    const client = entDbClient(server);
    const cases: [string, string][] = [
      ['"unclosed', `Search query: A '"' is never closed (at position 0).`],
      ["printer AND AND fire", "Search query: AND is followed by AND (at position 12)."],
      [
        "*",
        "Search query: A '*' must directly follow a word or phrase, as in `print*` (at position 0).",
      ],
      [
        Array.from({ length: 10_000 }, (_, i) => `w${i}`).join(" "),
        "Search query: The query is 58889 characters long; the limit is 1000 (at position 1000).",
      ],
      [
        Array.from({ length: 100 }, (_, i) => `w${i}`).join(" "),
        "Search query: The query has more than 64 terms (at position 246).",
      ],
      [
        "printer\u0007fire",
        "Search query: Control character U+0007 is not allowed in a query (at position 7).",
      ],
    ];
    for (const [query, message] of cases) {
      const err = await connectError(client.search({ tenant: TENANT, query }));
      expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
    }
    const noSearch = await connectError(
      client.search({ tenant: TENANT, query: "x", typeIds: [TRACKER.team + 1000] }),
    );
    expect([noSearch.code, noSearch.rawMessage]).toEqual([
      Code.InvalidArgument,
      `The schema has no node type with id ${TRACKER.team + 1000}.`,
    ]);
  });
});

describe("relevance pages over the wire", () => {
  it("walks relevance pages without repeats or skips while another client writes", async () => {
    const busy = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url, protocol: "connect" }),
      tenant: `${TENANT}-busy`,
      retry: false,
    });
    const { project, tasks: ids } = await busy.atomic((plan) => {
      const team = plan.team.create({ name: "Busy", slug: "busy" });
      const project = plan.project.create({ team, key: "BSY", name: "Busy desk" });
      const tasks = Array.from({ length: 30 }, (_, i) =>
        plan.task.create({
          project,
          number: i + 1,
          title: `Toner ${"refill ".repeat(i % 9)}`,
          body: `toner log ${i}`,
          status: "todo",
        }),
      );
      return { project, tasks };
    });
    const doomed = new Set(ids.filter((_, i) => i % 5 === 4));
    // Another client inserts matching tasks (moving bm25's statistics) and deletes some
    // of the first thirty while the walk goes on.
    let writing = true;
    const writer = (async () => {
      let n = 100;
      const toDelete = [...doomed];
      while (writing || toDelete.length > 0) {
        const victim = toDelete.shift();
        await busy.atomic((plan) => {
          plan.task.create({
            project,
            number: n,
            title: "toner toner toner",
            body: "toner",
            status: "todo",
          });
          if (victim !== undefined) plan.task.delete(victim);
        });
        n++;
      }
    })();
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await busy.task.search("toner", { limit: 3, ...(after ? { after } : {}) });
      seen.push(...page.items.map((hit) => hit.node.id));
      after = page.next;
      pages++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    } while (after !== undefined);
    writing = false;
    await writer;
    expect(new Set(seen).size).toBe(seen.length);
    const kept = ids.filter((id) => !doomed.has(id));
    expect(kept.filter((id) => !seen.includes(id))).toEqual([]);
    expect(pages).toBeGreaterThan(5);
  });

  it("answers FAILED_PRECONDITION for a cursor whose ranked hits the server no longer keeps", async () => {
    const client = entDbClient(server);
    const first = await client.search({ tenant: TENANT, query: "printer OR fire", limit: 1 });
    expect(first.nextCursor).not.toBe("");
    const second = await client.search({
      tenant: TENANT,
      query: "printer OR fire",
      limit: 1,
      cursor: first.nextCursor,
    });
    expect(second.hits).toHaveLength(1);
    // The same cursor naming a snapshot the server never made (as after a restart).
    const fields = JSON.parse(Buffer.from(first.nextCursor, "base64url").toString("utf8")) as {
      i: string;
    };
    expect(fields.i).toMatch(/^snapshot:[A-Za-z0-9_-]{22}$/);
    const forged = Buffer.from(
      JSON.stringify({ ...fields, i: "snapshot:AAAAAAAAAAAAAAAAAAAAAA" }),
    ).toString("base64url");
    const err = await connectError(
      client.search({ tenant: TENANT, query: "printer OR fire", limit: 1, cursor: forged }),
    );
    expect([err.code, err.rawMessage]).toEqual([
      Code.FailedPrecondition,
      "The search cursor expired: its ranked hits are kept 10 minutes after the last page was read, by the server that made them. Start again without a cursor.",
    ]);
  });
});

describe("buf curl on the typed Search", () => {
  it("searches TaskService by reflection with a query and a limit", async () => {
    const res = await runCommand(
      BUF,
      [
        "curl",
        "-H",
        `entdb-tenant: ${TENANT}`,
        "-d",
        JSON.stringify({ query: "printer fire", limit: 2 }),
        `${server.url}/acme.tracker.TaskService/Search`,
      ],
      { cwd: server.dataDir, timeout: 30_000 },
    );
    expect(res.stderr).toBe("");
    const out = JSON.parse(res.stdout) as {
      hits: {
        node: { fields: { title: string } };
        score: number;
        snippets: Record<string, string>;
      }[];
      nextCursor: string;
    };
    expect(out.hits.map((hit) => hit.node.fields.title)).toEqual(["Fire drill", "Printer on fire"]);
    expect(out.hits[1]!.snippets).toEqual({
      title: "[Printer] on [fire]",
      body: "Smoke is coming out of the [printer]",
    });
    expect(out.hits[0]!.score).toBeGreaterThan(out.hits[1]!.score);
    expect(out.nextCursor).not.toBe("");
  }, 30_000);

  it('HTML-escapes snippets with snippet_escape "html", and names a bad value', async () => {
    const tenant = `${TENANT}-typed-html`;
    const kitchen = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url, protocol: "connect" }),
      tenant,
      retry: false,
    });
    await kitchen.atomic((plan) => {
      const team = plan.team.create({ name: "Kitchen", slug: "kitchen" });
      const project = plan.project.create({ team, key: "KIT", name: "Kitchen things" });
      plan.task.create({
        project,
        number: 1,
        title: "Kettle <script>alert(1)</script>",
        body: "Descale the kettle & the tap",
        status: "todo",
      });
      return {};
    });
    const curl = (body: object) =>
      runCommand(
        BUF,
        [
          "curl",
          "-H",
          `entdb-tenant: ${tenant}`,
          "-d",
          JSON.stringify(body),
          `${server.url}/acme.tracker.TaskService/Search`,
        ],
        { cwd: server.dataDir, timeout: 30_000 },
      );
    const marks = { query: "kettle", highlightStart: "<mark>", highlightEnd: "</mark>" };
    const html = await curl({ ...marks, snippetEscape: "html" });
    expect(html.stderr).toBe("");
    expect(
      (JSON.parse(html.stdout) as { hits: { snippets: Record<string, string> }[] }).hits.map(
        (hit) => hit.snippets,
      ),
    ).toEqual([
      {
        title: "<mark>Kettle</mark> &lt;script&gt;alert(1)&lt;/script&gt;",
        body: "Descale the <mark>kettle</mark> &amp; the tap",
      },
    ]);
    const raw = await curl(marks);
    expect(
      (JSON.parse(raw.stdout) as { hits: { snippets: Record<string, string> }[] }).hits[0]!
        .snippets["title"],
    ).toBe("<mark>Kettle</mark> <script>alert(1)</script>");
    const bad = await curl({ ...marks, snippetEscape: "HTML5" });
    const failure = JSON.parse(bad.stderr) as { code: string; message: string };
    expect([failure.code, failure.message]).toEqual([
      "invalid_argument",
      '`snippet_escape` is "HTML5"; set "html" to HTML-escape snippet text, or leave it empty for the stored text as it is.',
    ]);
  }, 60_000);
});
