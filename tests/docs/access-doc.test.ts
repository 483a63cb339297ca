/**
 * The tokens file example in docs/access.md is in the format `--tokens-file` reads, and
 * the refusal reasons the page lists are the ones the server logs.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTokensFile } from "../../server/api/token-file.ts";

const root = join(import.meta.dirname, "..", "..");
const page = readFileSync(join(root, "docs", "access.md"), "utf8");

describe("docs/access.md", () => {
  it("shows a tokens file that parses", () => {
    const block = /```tokens\n([\s\S]*?)```/.exec(page)?.[1];
    expect(block).toBeDefined();
    expect(parseTokensFile("example", block ?? "").map((t) => t.principal)).toEqual([
      "user:alice",
      "service:importer",
    ]);
  });

  it("lists every refusal reason the server logs", () => {
    const sources = ["authenticator.ts", "auth-jwt.ts"].map((f) =>
      readFileSync(join(root, "server", "api", f), "utf8"),
    );
    const reasons = sources.flatMap((text) => [
      ...[...text.matchAll(/refused\("([^"]+)"/g)].map((m) => m[1]),
      ...[...text.matchAll(/r\(\s*"([^"]+)"/g)].map((m) => m[1]),
      ...[...text.matchAll(/reason: "([^"]+)"/g)].map((m) => m[1]),
    ]);
    expect(reasons.length).toBeGreaterThanOrEqual(12);
    for (const reason of reasons) expect(page).toContain(`\`${reason}\``);
  });
});
