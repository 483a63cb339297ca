/**
 * `entdb schema push` and `entdb schema history`: register a schema version on a
 * running server without a restart (PushSchema), and list the versions it registered
 * (ListSchemaVersions). See docs/schema-evolution.md.
 *
 * `push` sends the schema file's text; the server runs the compatibility rules against
 * the version it serves. A refused (breaking) push prints its findings as `entdb check`
 * does, in the same formats. Exit codes: 0 pushed (or already served), 1 the server
 * refused (breaking, not an administrator, …), 2 a usage error, an unreadable file or
 * an unreachable server.
 */

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Client } from "@connectrpc/connect";
import { Command, Option } from "commander";
import type { EntDbService, SchemaFinding } from "../../generated/entdb/v1/entdb_pb.js";
import type { CompatRuleId, Finding } from "../../schema/index.ts";
import { noApiProblem, serverUrlProblem } from "./server-url.ts";

type Api = Client<typeof EntDbService>;

interface ConnectionOptions {
  readonly url?: string;
  readonly token?: string;
}

type Format = "text" | "json" | "github";

/** The `schema` command and its subcommands. */
export function schemaServerCommand(): Command {
  const schema = new Command("schema").description(
    "Register schema versions on a running server, and list them.",
  );
  schema
    .command("push <schema>")
    .description(
      "Register a new schema version on a running server, live (server administrators only).",
    )
    .option("--url <url>", "the server's API address, e.g. http://127.0.0.1:50051 (env ENTDB_URL)")
    .option("--token <token>", "your bearer token (env ENTDB_TOKEN; none in dev mode)")
    .option(
      "--allow <rule>",
      "accept this breaking rule (repeatable, or comma-separated); recorded in the log",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addOption(
      new Option("--format <format>", "how findings are printed")
        .choices(["text", "json", "github"])
        .default("text"),
    )
    .action(
      async (
        file: string,
        opts: ConnectionOptions & { allow?: string[]; format: Format },
      ): Promise<void> => {
        process.exitCode = await push(file, opts);
      },
    );
  schema
    .command("history")
    .description("List the schema versions a running server registered, oldest first.")
    .option("--url <url>", "the server's API address (env ENTDB_URL)")
    .option("--token <token>", "your bearer token (env ENTDB_TOKEN; none in dev mode)")
    .action(async (opts: ConnectionOptions): Promise<void> => {
      process.exitCode = await history(opts);
    });
  return schema;
}

async function push(
  file: string,
  opts: ConnectionOptions & { allow?: string[]; format: Format },
): Promise<number> {
  const { displayPath, parseRuleList, renderCheckReport } = await import(
    "../../schema/cli/index.ts"
  );
  const allowed = parseRuleList(opts.allow ?? [], "--allow");
  if (typeof allowed === "string") return fail(2, allowed);
  let text: string;
  try {
    text = await readFile(resolve(file), "utf8");
  } catch (err) {
    return fail(2, `cannot read ${file}: ${(err as Error).message}`);
  }
  const path = displayPath(file, process.cwd());
  const api = await connect(opts);
  if (typeof api === "string") return fail(2, api);
  const { Code, ConnectError } = await import("@connectrpc/connect");
  const { SchemaRejectionSchema } = await import("../../generated/entdb/v1/entdb_pb.js");
  const source = { path, text };
  const url = opts.url ?? process.env["ENTDB_URL"] ?? "";
  try {
    const res = await api.client.pushSchema({ source: text, path, allow: [...allowed] });
    const report = renderCheckReport(
      {
        findings: res.findings.map(toFinding),
        allowed,
        source,
        against: `${url} (schema version ${res.changed ? res.version - 1 : res.version})`,
      },
      opts.format,
    );
    if (opts.format === "json") {
      process.stdout.write(report);
      return 0;
    }
    const at = res.position
      ? ` at log position ${res.position.partition}:${res.position.offset}`
      : "";
    const done = res.changed
      ? `pushed: ${url} serves schema version ${res.version} (fingerprint ${res.fingerprint})${at}`
      : `unchanged: ${url} already serves this schema as version ${res.version}`;
    process.stdout.write(`${res.findings.length > 0 ? report : ""}${done}\n`);
    return 0;
  } catch (err) {
    const e = ConnectError.from(err);
    const rejection = e.findDetails(SchemaRejectionSchema)[0];
    if (e.code === Code.FailedPrecondition && rejection) {
      process.stdout.write(
        renderCheckReport(
          {
            findings: rejection.findings.map(toFinding),
            allowed,
            source,
            against: `${url} (schema version ${rejection.servedVersion})`,
          },
          opts.format,
        ),
      );
      // The server's message names the RPC's `allow` field; a CLI user passes --allow.
      const rules = [
        ...new Set(
          rejection.findings
            .map(toFinding)
            .filter((f) => f.category === "breaking" && !allowed.has(f.rule))
            .map((f) => f.rule),
        ),
      ];
      process.stderr.write(
        `error: the server refused the push: ${rules.length} breaking rule(s) (${rules.join(", ")}) against schema version ${rejection.servedVersion}. Nothing was changed. Make the change compatible, or pass --allow RULE for each rule it may break.\n`,
      );
      return 1;
    }
    return await refusal(e, Code, url);
  }
}

async function history(opts: ConnectionOptions): Promise<number> {
  const api = await connect(opts);
  if (typeof api === "string") return fail(2, api);
  const { Code, ConnectError } = await import("@connectrpc/connect");
  const { timestampDate } = await import("@bufbuild/protobuf/wkt");
  try {
    const res = await api.client.listSchemaVersions({});
    const rows = res.versions.map((v) =>
      [
        String(v.version),
        v.fingerprint,
        v.registeredAt ? timestampDate(v.registeredAt).toISOString() : "-",
        v.principal || "-",
        v.allowedRules.length > 0 ? `allowed ${v.allowedRules.join(",")}` : "",
      ]
        .join("\t")
        .trimEnd(),
    );
    process.stdout.write(
      `${["version\tfingerprint\tregistered\tprincipal", ...rows].join("\n")}\n`,
    );
    return 0;
  } catch (err) {
    return await refusal(ConnectError.from(err), Code, opts.url ?? process.env["ENTDB_URL"] ?? "");
  }
}

/** A client for `--url`, or the message saying what is missing. */
async function connect(opts: ConnectionOptions): Promise<{ client: Api } | string> {
  const url = opts.url ?? process.env["ENTDB_URL"];
  if (!url) return "no server given; pass --url URL or set ENTDB_URL.";
  const problem = serverUrlProblem(url);
  if (problem !== undefined) return problem;
  const token = opts.token ?? process.env["ENTDB_TOKEN"];
  // Loaded on use, so other entdb commands do not load the client at start.
  const [{ createClient }, { createConnectTransport }, { EntDbService }] = await Promise.all([
    import("@connectrpc/connect"),
    import("@connectrpc/connect-node"),
    import("../../generated/entdb/v1/entdb_pb.js"),
  ]);
  const { createBearerAuthInterceptor } = await import("entdb/runtime/v1");
  const client = createClient(
    EntDbService,
    createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: token ? [createBearerAuthInterceptor(token)] : [],
    }),
  );
  return { client };
}

/**
 * A refused or failed call: exit 2 when the server could not be reached or `url` serves no
 * EntDB API, 1 otherwise.
 */
async function refusal(
  e: { readonly code: number; readonly rawMessage: string },
  Code: typeof import("@connectrpc/connect").Code,
  url: string,
): Promise<number> {
  const { codeToString } = await import("@connectrpc/connect/protocol-connect");
  // The name the docs, /metrics and the clients use ("permission_denied").
  const name = codeToString(e.code);
  const wrongUrl = e.code === Code.Unknown ? noApiProblem(url, e.rawMessage) : undefined;
  if (wrongUrl !== undefined) return fail(2, wrongUrl);
  if (e.code === Code.Unavailable || e.code === Code.Unknown) {
    return fail(2, `${name}: ${e.rawMessage}`);
  }
  return fail(1, `${name}: ${e.rawMessage}`);
}

function fail(code: number, message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return code;
}

/** A finding from the API, as `entdb check` renders it. */
function toFinding(f: SchemaFinding): Finding {
  // A rule this CLI does not know (from a newer server) still prints, under its own name.
  const rule = f.rule as CompatRuleId;
  const category = f.category === "safe" ? "safe" : "breaking";
  const base = { rule, category, message: f.message } as const;
  return f.spanStart === undefined
    ? base
    : { ...base, span: { start: f.spanStart, end: f.spanEnd ?? f.spanStart } };
}
