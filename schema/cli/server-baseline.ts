/**
 * The schema a running `entdb serve` serves, as a baseline for `entdb check --against
 * http(s)://HOST:PORT`: one `EntDbService/GetSchema` call in the Connect protocol's JSON
 * form over the platform's `fetch`. Plain HTTP keeps the schema layer free of the server
 * and of generated code; the wire format is the documented Connect unary protocol.
 *
 * Every way this can fail is a {@link ServerBaselineError}: the check then exits 2 with
 * the cause, never a silent pass.
 */

/** What GetSchema answered: the served version, its fingerprint and its lock file. */
export interface ServedBaseline {
  readonly version: number;
  readonly fingerprint: string;
  readonly lockJson: string;
}

/** A baseline server that could not be read: unreachable, refused, or an odd answer. */
export class ServerBaselineError extends Error {
  override readonly name = "ServerBaselineError";
  readonly code: "SERVER_UNREACHABLE" | "SERVER_UNAUTHORIZED" | "SERVER_ERROR";

  constructor(code: ServerBaselineError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Whether `--against` names a server rather than a file or a git revision. */
export function isServerUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** How long the server may take to answer before the check gives up. */
const TIMEOUT_MS = 15_000;

/** Reads the served schema of the server at `url`, with `token` as the bearer token. */
export async function fetchServedSchema(
  url: string,
  options: { readonly token?: string } = {},
): Promise<ServedBaseline> {
  const base = url.replace(/\/+$/, "");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "connect-protocol-version": "1",
  };
  if (options.token) headers["authorization"] = `Bearer ${options.token}`;
  let res: Response;
  try {
    res = await fetch(`${base}/entdb.v1.EntDbService/GetSchema`, {
      method: "POST",
      headers,
      body: "{}",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ServerBaselineError(
      "SERVER_UNREACHABLE",
      `cannot reach the server at ${url}: ${networkCause(err)}. Check the URL and that the server is running.`,
      { cause: err },
    );
  }
  const text = await res.text().catch(() => "");
  const body = parseJson(text);
  if (!res.ok) {
    const code = typeof body?.["code"] === "string" ? body["code"] : `HTTP ${res.status}`;
    const message = typeof body?.["message"] === "string" ? body["message"] : text.slice(0, 200);
    if (code === "unauthenticated" || code === "permission_denied") {
      const how = options.token
        ? "the token was refused"
        : "no token was sent; pass --token or set ENTDB_TOKEN";
      throw new ServerBaselineError(
        "SERVER_UNAUTHORIZED",
        `the server at ${url} refused to give its schema (${code}: ${message}): ${how}.`,
      );
    }
    if (typeof body?.["code"] !== "string") {
      // A bare HTTP status, not a Connect error: no EntDB API answers there, most often
      // because the URL names the ops port.
      throw new ServerBaselineError(
        "SERVER_ERROR",
        `${url} serves no EntDB API (HTTP ${res.status}): --against must be the server's API port (entdb serve --port, default 50051), not its ops port (--http-port, default 8080, for /health, /ready and /metrics).`,
      );
    }
    throw new ServerBaselineError(
      "SERVER_ERROR",
      `the server at ${url} answered GetSchema with ${code}: ${message}`,
    );
  }
  const version = body?.["version"];
  const lockJson = body?.["lockJson"];
  if (typeof lockJson !== "string" || lockJson === "") {
    throw new ServerBaselineError(
      "SERVER_ERROR",
      `the answer of ${url} to GetSchema holds no lock file; is it an entdb server?`,
    );
  }
  return {
    version: typeof version === "number" ? version : 0,
    fingerprint: typeof body?.["fingerprint"] === "string" ? body["fingerprint"] : "",
    lockJson,
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The innermost reason of a failed fetch (`ECONNREFUSED 127.0.0.1:1`, a timeout). */
function networkCause(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") {
    return `no answer within ${TIMEOUT_MS / 1000} s`;
  }
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === "string" && !e.message.includes(code)
      ? `${code}: ${e.message}`
      : e.message;
  }
  return String(e);
}
