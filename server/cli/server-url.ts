/**
 * The `--url` of the commands that call a running server (`entdb tenant`, `group`,
 * `schema`): checked before any call, so a missing scheme is named instead of Connect's
 * "Unknown: Protocol "localhost:" not supported".
 */

/** Why `url` cannot be a server's API address, or undefined when it can. */
export function serverUrlProblem(url: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:"))
    return undefined;
  return `--url (ENTDB_URL) must be the server's API address, http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:50051); got '${url}'.`;
}

/**
 * Why a call to `url` failed, when it answered with a bare HTTP status instead of an
 * EntDB answer (Connect's UNKNOWN "HTTP 405"): no EntDB API is served there, most often
 * because `--url` names the ops port. Undefined for any other failure.
 */
export function noApiProblem(url: string, rawMessage: string): string | undefined {
  const status = /^HTTP (\d{3})$/.exec(rawMessage)?.[1];
  if (status === undefined) return undefined;
  return `${url} serves no EntDB API (HTTP ${status}): --url must be the server's API port (entdb serve --port, default 50051), not its ops port (--http-port, default 8080, for /health, /ready and /metrics).`;
}
