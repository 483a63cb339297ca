import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

/** Runs a Node child that logs its warnings as the server does, then warns; its stderr. */
function warnIn(child: string, env: NodeJS.ProcessEnv = {}): string {
  const url = (file: string) => pathToFileURL(new URL(file, import.meta.url).pathname).href;
  const script = `
    const { createLogger } = await import(${JSON.stringify(url("./log.ts"))});
    const { logProcessWarnings } = await import(${JSON.stringify(url("./process-warnings.ts"))});
    logProcessWarnings(createLogger("info"));
    ${child}`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, NODE_NO_WARNINGS: "", ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(run.status).toBe(0);
  return run.stderr;
}

describe("logProcessWarnings", () => {
  it("logs a warning as one JSON line at warn, in place of Node's plain text", () => {
    const stderr = warnIn(`process.emitWarning("the disk is odd", { code: "ODD01" });`);
    const lines = stderr.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: "warn",
      msg: "runtime warning",
      warning: "Warning",
      code: "ODD01",
      message: "the disk is odd",
    });
  });

  it("logs a negative timer outside kafkajs at warn too", () => {
    const stderr = warnIn(`setTimeout(() => {}, -5);`);
    expect(JSON.parse(stderr.trim())).toMatchObject({
      level: "warn",
      warning: "TimeoutNegativeWarning",
    });
  });

  it("logs nothing when the user turned warnings off", () => {
    expect(warnIn(`process.emitWarning("quiet");`, { NODE_NO_WARNINGS: "1" })).toBe("");
  });
});
