/**
 * `entdb tenant ...` and `entdb group ...`: manage tenants, members and groups of a
 * running server through its API (CreateTenant, AddTenantMember, …; see
 * docs/access-control.md). The server is `--url` (env `ENTDB_URL`), the caller's bearer
 * token `--token` (env `ENTDB_TOKEN`; keep it out of shell history with the variable).
 * Exit codes: 0 done, 1 the server refused (the message says why), 2 a usage error.
 */

import type { Client } from "@connectrpc/connect";
import { Command } from "commander";
import type { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import type { Receipt } from "../../generated/entdb/v1/values_pb.js";
import { noApiProblem, serverUrlProblem } from "./server-url.ts";

type Api = Client<typeof EntDbService>;

interface ConnectionOptions {
  readonly url?: string;
  readonly token?: string;
}

/** The `tenant` and `group` commands. */
export function accessCommands(): Command[] {
  const tenant = withConnection(
    new Command("tenant").description("Manage tenants and their members on a running server."),
  );
  tenant
    .command("create <tenant>")
    .description("Create a tenant with its first owner (server administrators only).")
    .requiredOption("--owner <principal>", "the first owner, user:ID or service:ID")
    .action(
      act(tenant, async (api, name: string, opts: { owner: string }) => {
        const res = await api.createTenant({ tenant: name, owner: opts.owner });
        return `created tenant '${name}' with owner ${opts.owner}${at(res.receipt)}`;
      }),
    );
  tenant
    .command("add-member <tenant> <principal>")
    .description("Add a member (user:ID, service:ID or group:ID) with a role.")
    .requiredOption("--role <role>", "owner, admin, member or viewer")
    .action(
      act(tenant, async (api, name: string, principal: string, opts: { role: string }) => {
        const res = await api.addTenantMember({ tenant: name, principal, role: opts.role });
        return `added ${principal} to '${name}' as ${opts.role}${at(res.receipt)}`;
      }),
    );
  tenant
    .command("set-role <tenant> <principal>")
    .description("Change a member's role.")
    .requiredOption("--role <role>", "owner, admin, member or viewer")
    .action(
      act(tenant, async (api, name: string, principal: string, opts: { role: string }) => {
        const res = await api.setTenantMemberRole({ tenant: name, principal, role: opts.role });
        return `${principal} is now ${opts.role} of '${name}'${at(res.receipt)}`;
      }),
    );
  tenant
    .command("remove-member <tenant> <principal>")
    .description("Remove a member.")
    .action(
      act(tenant, async (api, name: string, principal: string) => {
        const res = await api.removeTenantMember({ tenant: name, principal });
        return `removed ${principal} from '${name}'${at(res.receipt)}`;
      }),
    );
  tenant
    .command("list")
    .description("List the tenants you are a member of (every tenant, for a server administrator).")
    .action(
      act(tenant, async (api) => {
        const res = await api.listTenants({});
        return res.tenants.map((t) => (t.role ? `${t.tenant}\t${t.role}` : t.tenant)).join("\n");
      }),
    );
  tenant
    .command("members <tenant>")
    .description("List a tenant's members and their roles.")
    .action(
      act(tenant, async (api, name: string) => {
        const res = await api.listTenantMembers({ tenant: name });
        return res.members.map((m) => `${m.principal}\t${m.role}`).join("\n");
      }),
    );

  const group = withConnection(
    new Command("group").description("Manage a tenant's groups on a running server."),
  );
  group
    .command("create <tenant> <group>")
    .description("Create a group (group:ID).")
    .action(
      act(group, async (api, name: string, g: string) => {
        const res = await api.createGroup({ tenant: name, group: g });
        return `created ${g} in '${name}'${at(res.receipt)}`;
      }),
    );
  group
    .command("add-member <tenant> <group> <principal>")
    .description("Add a user or service to a group.")
    .action(
      act(group, async (api, name: string, g: string, principal: string) => {
        const res = await api.addGroupMember({ tenant: name, group: g, principal });
        return `added ${principal} to ${g} in '${name}'${at(res.receipt)}`;
      }),
    );
  group
    .command("remove-member <tenant> <group> <principal>")
    .description("Remove a user or service from a group.")
    .action(
      act(group, async (api, name: string, g: string, principal: string) => {
        const res = await api.removeGroupMember({ tenant: name, group: g, principal });
        return `removed ${principal} from ${g} in '${name}'${at(res.receipt)}`;
      }),
    );
  group
    .command("list <tenant>")
    .description("List a tenant's groups and their members.")
    .action(
      act(group, async (api, name: string) => {
        const res = await api.listGroups({ tenant: name });
        return res.groups.map((g) => `${g.group}\t${g.members.join(",")}`).join("\n");
      }),
    );
  return [tenant, group];
}

/**
 * Adds `--url` and `--token`. They belong to the parent (`entdb tenant --url … create …`
 * and `entdb tenant create … --url …` both work), so each subcommand's `--help` shows
 * them too, under "Global Options".
 */
function withConnection(command: Command): Command {
  return command
    .option("--url <url>", "the server's API address, e.g. http://127.0.0.1:50051 (env ENTDB_URL)")
    .option("--token <token>", "your bearer token (env ENTDB_TOKEN; none in dev mode)")
    .configureHelp({ showGlobalOptions: true });
}

/**
 * Wraps a subcommand's body: builds the client from the parent's options, prints the
 * result, and turns a refusal into its message on stderr and exit code 1.
 */
// biome-ignore lint/suspicious/noExplicitAny: commander passes positional strings, then the options object, then the command.
function act<A extends any[]>(
  parent: Command,
  body: (api: Api, ...args: A) => Promise<string>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const conn = parent.opts<ConnectionOptions>();
    const url = conn.url ?? process.env["ENTDB_URL"];
    if (!url) {
      process.stderr.write("error: no server given; pass --url URL or set ENTDB_URL.\n");
      process.exitCode = 2;
      return;
    }
    const problem = serverUrlProblem(url);
    if (problem !== undefined) {
      process.stderr.write(`error: ${problem}\n`);
      process.exitCode = 2;
      return;
    }
    const token = conn.token ?? process.env["ENTDB_TOKEN"];
    // Loaded on use, so other entdb commands do not load the client at start.
    const [
      { Code, ConnectError, createClient },
      { createConnectTransport },
      { EntDbService },
      { codeToString },
    ] = await Promise.all([
      import("@connectrpc/connect"),
      import("@connectrpc/connect-node"),
      import("../../generated/entdb/v1/entdb_pb.js"),
      import("@connectrpc/connect/protocol-connect"),
    ]);
    // The runtime is the `entdb` package (the CLI's peer), not a folder of the CLI's own.
    const { createBearerAuthInterceptor } = await import("entdb/runtime/v1");
    const api = createClient(
      EntDbService,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "1.1",
        interceptors: token ? [createBearerAuthInterceptor(token)] : [],
      }),
    );
    try {
      const out = await body(api, ...args);
      if (out !== "") process.stdout.write(`${out}\n`);
    } catch (err) {
      const e = ConnectError.from(err);
      const wrongUrl = e.code === Code.Unknown ? noApiProblem(url, e.rawMessage) : undefined;
      if (wrongUrl !== undefined) {
        process.stderr.write(`error: ${wrongUrl}\n`);
        process.exitCode = 2;
        return;
      }
      // The code's name as the docs, /metrics and the clients write it ("permission_denied").
      process.stderr.write(`error: ${codeToString(e.code)}: ${e.rawMessage}\n`);
      process.exitCode = 1;
    }
  };
}

function at(receipt: Receipt | undefined): string {
  const p = receipt?.position;
  return p ? ` (log position ${p.partition}:${p.offset})` : "";
}
