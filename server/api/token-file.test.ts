import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config-error.ts";
import { parseTokenList, parseTokensFile, readTokensFile, tokenSha256 } from "./token-file.ts";

const A = "alice-token-0123456789";
const B = "bob-token-abcdefghijkl";
const sha = (token: string) => createHash("sha256").update(token).digest("hex");

/** The ConfigError message `fn` throws. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("--tokens", () => {
  it("parses token=principal entries into hashes and canonical principals", () => {
    const tokens = parseTokenList(`${A}=user:alice,${B}=service:importer`);
    expect(tokens.map((t) => [Buffer.from(t.sha256).toString("hex"), t.principal])).toEqual([
      [sha(A), "user:alice"],
      [sha(B), "service:importer"],
    ]);
    expect(parseTokenList("")).toEqual([]);
  });

  it("rejects a space, naming the entry and never the token", () => {
    const message = configError(() => parseTokenList(`${A}=user:alice, ${B}=user:bob`));
    expect(message).toBe(
      "--tokens entry 2 contains a space; --tokens is token=principal entries separated by commas, with no spaces.",
    );
  });

  it("rejects a token given twice, naming both entries", () => {
    expect(configError(() => parseTokenList(`${A}=user:alice,${A}=user:bob`))).toBe(
      "--tokens entry 2 repeats the token of --tokens entry 1 (user:alice); each token must name one principal.",
    );
  });

  it("allows one principal two tokens (rotation)", () => {
    expect(parseTokenList(`${A}=user:alice,${B}=user:alice`)).toHaveLength(2);
  });

  it("rejects a token under 16 characters and states the rule", () => {
    expect(configError(() => parseTokenList("short-token=user:alice"))).toBe(
      "--tokens entry 1: the token for user:alice must be at least 16 characters of letters, digits and - . _ ~ + /.",
    );
    expect(configError(() => parseTokenList("token-with-a-quote'=user:alice"))).toBe(
      "--tokens entry 1: the token for user:alice must be at least 16 characters of letters, digits and - . _ ~ + /.",
    );
  });

  it("rejects a principal that cannot authenticate without quoting what was written", () => {
    for (const actor of ["group:eng", "alice", "role:owner", "tenant:*"]) {
      expect(configError(() => parseTokenList(`${A}=${actor}`))).toBe(
        "--tokens entry 1: the part after '=' must be a user:ID or service:ID principal (token=principal).",
      );
    }
    // Written the wrong way round, the token would be after the '=': it is not echoed.
    expect(configError(() => parseTokenList(`user:alice=${A}`))).not.toContain(A);
  });

  it("rejects entries that are not token=principal, and empty ones", () => {
    expect(configError(() => parseTokenList(A))).toBe(
      "--tokens entry 1 is not token=principal; write e.g. --tokens 's3cret-0123456789abcdef=user:alice'.",
    );
    expect(configError(() => parseTokenList(`${A}=user:alice,,${B}=user:bob`))).toBe(
      "--tokens entry 2 is empty; --tokens is token=principal entries separated by single commas.",
    );
  });
});

describe("--tokens-file", () => {
  it("reads hash and principal lines, skipping comments and blank lines", () => {
    const text = `# tokens of the tracker\n\n${sha(A)} user:alice\n  # indented comment\n${sha(B)}\t\tservice:importer\r\n`;
    const tokens = parseTokensFile("tokens.txt", text);
    expect(
      tokens.map((t) => [Buffer.from(t.sha256).toString("hex"), t.principal, t.source]),
    ).toEqual([
      [sha(A), "user:alice", "tokens.txt:3"],
      [sha(B), "service:importer", "tokens.txt:5"],
    ]);
    expect(Buffer.from(tokens[0]?.sha256 ?? []).equals(tokenSha256(A))).toBe(true);
  });

  it("names file:line for each kind of bad line", () => {
    const cases: [string, string][] = [
      [
        `${sha(A)}`,
        "t.txt:2: expected 'SHA256HEX PRINCIPAL' (two fields separated by spaces), found 1 field.",
      ],
      [
        `${sha(A)} user:alice extra`,
        "t.txt:2: expected 'SHA256HEX PRINCIPAL' (two fields separated by spaces), found 3 fields.",
      ],
      [
        `${A} user:alice`,
        't.txt:2: the first field must be the 64-digit hex SHA-256 of the token (printf %s "$TOKEN" | sha256sum), not a token itself.',
      ],
      [`${sha(A).toUpperCase()} user:alice`, "t.txt:2: write the SHA-256 in lowercase hex."],
      [
        `${sha(A)} group:eng`,
        't.txt:2: "group:eng" is not a principal: only user:ID and service:ID principals can authenticate. Principals are user:ID, service:ID, group:ID, role:viewer|member|admin|owner or tenant:*.',
      ],
      [
        `${sha(A)} alice`,
        't.txt:2: "alice" is not a principal: it has no kind prefix. Principals are user:ID, service:ID, group:ID, role:viewer|member|admin|owner or tenant:*.',
      ],
    ];
    for (const [line, message] of cases)
      expect(configError(() => parseTokensFile("t.txt", `# header\n${line}\n`))).toBe(message);
  });

  it("rejects a hash listed twice, naming both lines", () => {
    expect(
      configError(() => parseTokensFile("t.txt", `${sha(A)} user:alice\n${sha(A)} user:bob\n`)),
    ).toBe(
      "t.txt:2 repeats the token of t.txt:1 (user:alice); each token must name one principal.",
    );
  });

  const dir = mkdtempSync(join(tmpdir(), "entdb-tokens-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a missing file and a file without tokens", () => {
    const missing = join(dir, "missing.txt");
    expect(configError(() => readTokensFile(missing))).toBe(
      `Cannot read the tokens file ${missing} (ENOENT); check --tokens-file.`,
    );
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "# nothing yet\n\n");
    expect(configError(() => readTokensFile(empty))).toBe(
      `The tokens file ${empty} has no tokens; add lines 'SHA256HEX PRINCIPAL' (e.g. from: printf %s "$TOKEN" | sha256sum).`,
    );
  });
});
