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
