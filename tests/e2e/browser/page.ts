/**
 * The page `tests/e2e/browser.test.ts` opens in Chromium, bundled with esbuild. It calls
 * `entdb serve` on another origin the way a browser app does: it creates a Team through
 * the typed service `acme.tracker.TeamService/Create` (Connect's `createClient` over the
 * `_pb` descriptor, the tenant in the `entdb-tenant` header), reads it back through the
 * generated client over `createWebTransport`, and writes each step's outcome as one line
 * into `#outcome`. `data-done` on that element marks the end of the run.
 *
 * With `watch=true` it then subscribes to the tenant's Teams with `db.team.watch`
 * (server streaming over fetch), takes the creation from the history, renames the team
 * and takes the live update, and stops the iterator.
 *
 * The query string says where and as whom: `api` (the server's base URL), `tenant`,
 * `token`, optionally `team` (an id to read when the create fails) and `watch`.
 */

import { createClient, type Interceptor } from "@connectrpc/connect";
import { EntDbError } from "entdb/runtime/v1";
import { createWebTransport } from "entdb/runtime/web";
import { TeamService } from "../../../examples/tracker/generated/acme/tracker/team_pb.js";
import { createClient as createTrackerClient } from "../../../examples/tracker/generated/client.ts";

/** The header the typed services read the tenant from (`server/api/request-headers.ts`). */
const TENANT_HEADER = "entdb-tenant";

function param(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null) throw new Error(`the page URL has no '${name}' parameter`);
  return value;
}

/** How a failed step reads on the page: the error's class, its code and its message. */
function describeError(err: unknown): string {
  if (err instanceof EntDbError) return `${err.name} ${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

async function run(out: string[]): Promise<void> {
  const params = new URLSearchParams(location.search);
  const baseUrl = param(params, "api");
  const tenant = param(params, "tenant");
  const token = param(params, "token");

  const withTenant: Interceptor = (next) => (req) => {
    req.header.set(TENANT_HEADER, tenant);
    return next(req);
  };
  const teams = createClient(
    TeamService,
    createWebTransport({ baseUrl, token, interceptors: [withTenant] }),
  );
  let teamId = params.get("team") ?? "";
  try {
    const created = await teams.create({ fields: { name: "Browser Team", slug: "browser" } });
    const node = created.node;
    teamId = node?.id ?? "";
    out.push(
      `TeamService.Create: team ${teamId} "${node?.fields?.name}" (${node?.fields?.slug}) version ${node?.version}, applied ${created.receipt?.applied}`,
    );
  } catch (err) {
    out.push(`TeamService.Create failed: ${describeError(err)}`);
  }

  const db = createTrackerClient({
    transport: createWebTransport({ baseUrl }),
    tenant,
    token,
    retry: false,
  });
  try {
    const team = await db.team.get(teamId);
    out.push(
      team === undefined
        ? `client.team.get: no team ${teamId}`
        : `client.team.get: team ${team.id} "${team.name}" (${team.slug}) version ${team.version}`,
    );
  } catch (err) {
    out.push(`client.team.get failed: ${describeError(err)}`);
  }

  if (params.get("watch") !== "true") return;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  try {
    const changes = db.team.watch({ fromStart: true, signal: abort.signal });
    const seen: string[] = [];
    const first = await changes.next();
    if (!first.done) seen.push(`${first.value.kind} ${first.value.id} "${first.value.node?.name}"`);
    await db.team.update(teamId, { name: "Renamed in the browser" });
    const second = await changes.next();
    if (!second.done)
      seen.push(`${second.value.kind} ${second.value.id} "${second.value.node?.name}"`);
    await changes.return(undefined);
    out.push(`client.team.watch: ${seen.join(", ")}`);
  } catch (err) {
    out.push(`client.team.watch failed: ${describeError(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

const outcome = document.getElementById("outcome");
if (outcome === null) throw new Error("the page has no #outcome element");
const lines: string[] = [];
run(lines)
  .catch((err: unknown) => lines.push(`page failed: ${describeError(err)}`))
  .finally(() => {
    outcome.textContent = lines.join("\n");
    outcome.dataset["done"] = "true";
  });
