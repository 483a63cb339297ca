import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CommandResult, runCommand, serverPerFile } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";

/** Runs the quickstart against `url`; resolves with its exit code and output. */
function runQuickstart(url: string, tenant: string): Promise<CommandResult> {
  return runCommand(process.execPath, [join(REPO_ROOT, "examples", "quickstart", "main.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, ENTDB_URL: url, ENTDB_TENANT: tenant },
    timeout: 30_000,
  });
}

/** The output with the run-specific log position replaced. */
function normalize(stdout: string): string {
  return stdout.replace(/log position \d+/, "log position N");
}

const EXPECTED = `created team, project, 2 users and 2 tasks in one plan (log position N)
tasks in progress: 1, to do: 1
read task #1 "Design the page": status todo, priority medium, version 1
Grace has 2 assignments; "Design the page" has 2 assignees (shares 60% + 40%)
updated task #1 to done: version 1 -> 2
stale update rejected: PreconditionFailedError
create-if-absent on email: created false, same user true
conditional update on a task no longer in progress rejected: PreconditionFailedError
retried comment: same id true, replayed true, comments on task: 1
done
`;

describe("examples/quickstart", () => {
  const server = serverPerFile({ checkExit: false });

  it("runs against a real server and prints what it did", async () => {
    const result = await runQuickstart(server.url, "demo");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(normalize(result.stdout)).toBe(EXPECTED);
  }, 40_000);

  it("runs again against the same server and tenant without unique clashes", async () => {
    const result = await runQuickstart(server.url, "demo");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(normalize(result.stdout)).toBe(EXPECTED);
  }, 40_000);
});
