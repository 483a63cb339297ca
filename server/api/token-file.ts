/**
 * Static bearer tokens: the `--tokens token=principal,...` list (for tests and quick
 * setups) and the `--tokens-file` file of `SHA256HEX PRINCIPAL` lines (for everything
 * else: the secrets stay out of `ps` output and shell history, and the file holds only
 * their hashes). Both parse to the same {@link StaticToken} entries; a request's token is
 * hashed and compared with every entry in constant time (see authenticator.ts).
 *
 * Rules, checked at start (a bad entry is a ConfigError naming where it is, never the
 * token itself):
 * - a token is at least {@link MIN_TOKEN_LENGTH} characters of `A-Z a-z 0-9 - . _ ~ + /`;
 * - the principal is `user:ID` or `service:ID` (acl/principal.ts);
 * - no token appears twice (one principal may have several tokens, e.g. while rotating).
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PrincipalError, parseCallerPrincipal } from "../acl/principal.ts";
import { ConfigError } from "../config-error.ts";

/** The shortest token `--tokens` accepts. */
export const MIN_TOKEN_LENGTH = 16;

/** One configured token: the SHA-256 of the token, and who presents it. */
export interface StaticToken {
  /** SHA-256 of the token (32 bytes). */
  readonly sha256: Uint8Array;
  /** Canonical principal text ("user:alice"). */
  readonly principal: string;
  /** Where it was configured ("--tokens entry 2", "tokens.txt:7"), for error messages. */
  readonly source: string;
}

/** The SHA-256 of a token, as the tokens file stores it and requests are compared. */
export function tokenSha256(token: string): Uint8Array {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The rule a `--tokens` token must satisfy, as error messages and `--help` state it. */
export const TOKEN_RULE = `at least ${MIN_TOKEN_LENGTH} characters of letters, digits and - . _ ~ + /`;

const TOKEN = /^[A-Za-z0-9._~+/-]+$/;

/**
 * Parses `--tokens` / `ENTDB_TOKENS`: `token=principal` entries separated by commas,
 * without spaces. Throws ConfigError naming the entry (by position and principal).
 */
export function parseTokenList(text: string): StaticToken[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const out: StaticToken[] = [];
  const entries = trimmed.split(",");
  entries.forEach((entry, i) => {
    const where = `--tokens entry ${i + 1}`;
    if (entry === "")
      throw new ConfigError(
        `${where} is empty; --tokens is token=principal entries separated by single commas.`,
      );
    if (/\s/.test(entry))
      throw new ConfigError(
        `${where} contains a space; --tokens is token=principal entries separated by commas, with no spaces.`,
      );
    const eq = entry.indexOf("=");
    if (eq <= 0 || eq === entry.length - 1)
      throw new ConfigError(
        `${where} is not token=principal; write e.g. --tokens 's3cret-0123456789abcdef=user:alice'.`,
      );
    const token = entry.slice(0, eq);
    const principal = callerPrincipal(entry.slice(eq + 1), where, false);
    if (token.length < MIN_TOKEN_LENGTH || !TOKEN.test(token))
      throw new ConfigError(`${where}: the token for ${principal} must be ${TOKEN_RULE}.`);
    out.push({ sha256: tokenSha256(token), principal, source: where });
  });
  checkDuplicates(out);
  return out;
}

/**
 * Reads a tokens file: one `SHA256HEX PRINCIPAL` per line (the lowercase hex SHA-256 of
 * the token, whitespace, the principal), `#` comment lines and blank lines. Throws
 * ConfigError naming `file:line`. A file without any token is an error too: it would
 * otherwise leave a server that was meant to authenticate in dev mode.
 */
export function readTokensFile(path: string): StaticToken[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `Cannot read the tokens file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --tokens-file.`,
    );
  }
  const out = parseTokensFile(path, text);
  if (out.length === 0)
    throw new ConfigError(
      `The tokens file ${path} has no tokens; add lines 'SHA256HEX PRINCIPAL' (e.g. from: printf %s "$TOKEN" | sha256sum).`,
    );
  return out;
}

/** Parses the text of a tokens file named `path` (see {@link readTokensFile}). */
export function parseTokensFile(path: string, text: string): StaticToken[] {
  const out: StaticToken[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${path}:${i + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/[ \t]+/);
    if (fields.length !== 2)
      throw new ConfigError(
        `${where}: expected 'SHA256HEX PRINCIPAL' (two fields separated by spaces), found ${fields.length} field${fields.length === 1 ? "" : "s"}.`,
      );
    const [hash, principalText] = fields as [string, string];
    if (!/^[0-9a-fA-F]{64}$/.test(hash))
      throw new ConfigError(
        `${where}: the first field must be the 64-digit hex SHA-256 of the token (printf %s "$TOKEN" | sha256sum), not a token itself.`,
      );
    if (hash !== hash.toLowerCase())
      throw new ConfigError(`${where}: write the SHA-256 in lowercase hex.`);
    out.push({
      sha256: Buffer.from(hash, "hex"),
      principal: callerPrincipal(principalText, where, true),
      source: where,
    });
  });
  checkDuplicates(out);
  return out;
}

/** Throws if two entries of `tokens` are the same token. */
export function checkDuplicates(tokens: readonly StaticToken[]): void {
  const seen = new Map<string, StaticToken>();
  for (const t of tokens) {
    const key = Buffer.from(t.sha256).toString("hex");
    const first = seen.get(key);
    if (first !== undefined)
      throw new ConfigError(
        `${t.source} repeats the token of ${first.source} (${first.principal}); each token must name one principal.`,
      );
    seen.set(key, t);
  }
}

/**
 * The canonical text of a caller principal. `echo` says whether the message may quote
 * the text: a `--tokens` entry written the wrong way round has its token after the `=`.
 */
function callerPrincipal(text: string, where: string, echo: boolean): string {
  try {
    return parseCallerPrincipal(text).text;
  } catch (err) {
    if (!(err instanceof PrincipalError)) throw err;
    if (echo) throw new ConfigError(`${where}: ${err.message}`);
    throw new ConfigError(
      `${where}: the part after '=' must be a user:ID or service:ID principal (token=principal).`,
    );
  }
}
