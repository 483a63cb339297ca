/**
 * A real browser calls `entdb serve` across origins. Chromium (Debian's, through
 * playwright-core) opens a page served from another loopback port that creates a Team
 * through the typed service `acme.tracker.TeamService/Create` (tenant in the
 * `entdb-tenant` header) and reads it back through the generated client over
 * `createWebTransport`. The same page served from an origin `--cors-origins` does not
 * list is refused by the browser's CORS check, which the runtime reports as
 * `UnavailableError`. The allowed page also watches its team change through
 * `db.team.watch` (Subscribe, server streaming over fetch). The page is
 * `tests/e2e/browser/page.ts`, bundled with esbuild.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser/chromium.ts";
import { bundlePage, type PageServer, startPageServer } from "./browser/page-server.ts";
import { entDbClient, TRACKER, teamPlan } from "./e2e-helpers.ts";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const TOKENS = {
  root: "root-token-0123456789",
  alice: "alice-token-0123456789",
} as const;
/** The tenant the allowed page writes to; the refused page gets its own, seeded from Node. */
const TENANT = "acme";
const REFUSED_TENANT = "refused";

let tmp = "";
let keepTmp = false;
let allowed: PageServer;
let disallowed: PageServer;
let server: ServerProcess;
let browser: BrowserContext;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "entdb-browser-"));
  const script = await bundlePage();
  allowed = await startPageServer(script);
  disallowed = await startPageServer(script);
  server = await startServerProcess({
    args: [
      "--cors-origins",
      allowed.origin,
      "--tokens",
      `${TOKENS.root}=user:root,${TOKENS.alice}=user:alice`,
      "--admins",
      "user:root",
    ],
  });
  // Only members use a tenant: root creates them with alice as their owner.
  const root = entDbClient(server, { token: TOKENS.root });
  for (const tenant of [TENANT, REFUSED_TENANT]) {
    await root.createTenant({ tenant, owner: "user:alice" });
  }
  browser = await launchChromium(join(tmp, "profile"));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await allowed?.close();
  await disallowed?.close();
  if (server) {
    const code = await server.stop();
    removeDataDir(server.dataDir);
    expect(code).toBe(0);
  }
  if (tmp && !keepTmp) rmSync(tmp, { recursive: true, force: true });
});

/** What a run of the page saw: the `#outcome` lines and the browser console's errors. */
interface PageRun {
  readonly lines: readonly string[];
  readonly consoleErrors: readonly string[];
}

/**
 * Opens the page from `origin` and waits for its outcome. On a failure the page is
 * photographed into the temp dir (which is then kept) and the path is in the error.
 */
async function runPage(
  name: string,
  origin: string,
  params: Readonly<Record<string, string>>,
  check: (run: PageRun) => void | Promise<void>,
): Promise<void> {
  const page: Page = await browser.newPage();
  const consoleErrors: string[] = [];
  let text = "(no outcome)";
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  try {
    const query = new URLSearchParams({ api: server.url, token: TOKENS.alice, ...params });
    await page.goto(`${origin}/?${query}`);
    await page.waitForSelector("#outcome[data-done='true']", { timeout: 20_000 });
    text = (await page.textContent("#outcome")) ?? "";
    await check({ lines: text.split("\n"), consoleErrors });
  } catch (err) {
    const shot = join(tmp, `${name}.png`);
    keepTmp = true;
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `${reason}\npage outcome:\n${text}\nscreenshot: ${shot}\nserver log:\n${server.logs()}`,
      { cause: err },
    );
  } finally {
    await page.close();
  }
}

/** The Teams of `tenant`, as alice sees them through the API. */
async function teamIds(tenant: string): Promise<string[]> {
  const client = entDbClient(server, { token: TOKENS.alice });
  const { nodes } = await client.queryNodes({ tenant, typeId: TRACKER.team, limit: 10 });
  return nodes.map((node) => node.id);
}

describe("a page on an allowed origin", () => {
  it("creates a team through TeamService, reads it back through the generated client and watches it change", async () => {
    const params = { tenant: TENANT, watch: "true" };
    await runPage("allowed", allowed.origin, params, async ({ lines }) => {
      const ids = await teamIds(TENANT);
      expect(ids).toHaveLength(1);
      const id = ids[0]!;
      expect(lines).toEqual([
        `TeamService.Create: team ${id} "Browser Team" (browser) version 1, applied true`,
        `client.team.get: team ${id} "Browser Team" (browser) version 1`,
        `client.team.watch: created ${id} "Browser Team", updated ${id} "Renamed in the browser"`,
      ]);
    });
  });
});

describe("a page on an origin --cors-origins does not list", () => {
  it("is refused by the browser's CORS check, which the runtime reports as UnavailableError", async () => {
    const alice = entDbClient(server, { token: TOKENS.alice });
    const seeded = await alice.executePlan(teamPlan(REFUSED_TENANT, "seeded"));
    const team = seeded.results[0]?.id ?? "";
    expect(team).not.toBe("");
    const params = { tenant: REFUSED_TENANT, team };
    await runPage("disallowed", disallowed.origin, params, ({ lines, consoleErrors }) => {
      const unreachable = (path: string) =>
        `could not reach the server at ${server.url}${path} (Failed to fetch); the call may be retried`;
      expect(lines).toEqual([
        `TeamService.Create failed: ConnectError: [unavailable] ${unreachable("/acme.tracker.TeamService/Create")}`,
        `client.team.get failed: UnavailableError unavailable: ${unreachable("/entdb.v1.EntDbService/GetNode")}`,
      ]);
      // The browser, not the server, refused: it says so for each call.
      const refusals = consoleErrors.filter((text) =>
        text.includes(`from origin '${disallowed.origin}' has been blocked by CORS policy`),
      );
      expect(refusals).toHaveLength(2);
    });
    // Nothing was written: the preflight stopped the create before it was sent.
    expect(await teamIds(REFUSED_TENANT)).toEqual([team]);
  });
});
