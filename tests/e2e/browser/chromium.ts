/**
 * Starts the Chromium that `tests/infra/chromium.sh` installed, through playwright-core
 * (which downloads nothing). A missing or broken Chromium fails the test with what to
 * run: the browser test never skips.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

const SCRIPT = join(import.meta.dirname, "..", "..", "infra", "chromium.sh");

/** Flags for a quiet headless run as root in a container: no sandbox, no GPU, no background traffic. */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
] as const;

/** The executable `tests/infra/chromium.sh path` names; throws saying how to install it. */
export function chromiumPath(): string {
  try {
    return execFileSync("bash", [SCRIPT, "path"], { encoding: "utf8", stdio: "pipe" }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(
      `the browser test cannot run without Chromium, and it never skips: ${stderr || String(err)}`,
      { cause: err },
    );
  }
}

/**
 * Launches Chromium with a fresh profile in `userDataDir` (a persistent context is how
 * Playwright takes `--user-data-dir`).
 */
export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  const executablePath = chromiumPath();
  try {
    return await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [...ARGS],
      timeout: 60_000,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Chromium at ${executablePath} did not start: ${reason}`, { cause: err });
  }
}
