import { describe, expect, it } from "vitest";
import { createProgress } from "./restore-command.ts";

function recorder(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, write: (text: string) => written.push(text), written };
}

describe("restore progress", () => {
  it("draws a bar in place on a terminal, with events/s and the time left", () => {
    const out = recorder(true);
    let clock = 1_000;
    const progress = createProgress(out, () => clock);
    progress.update({ phase: "apply", done: 0, total: 1000 });
    clock += 2_000;
    progress.update({ phase: "apply", done: 500, total: 1000 });
    progress.end();
    expect(out.written).toEqual([
      `\rapply [${".".repeat(30)}] 0/1000 events, 0 events/s\x1b[K`,
      `\rapply [${"#".repeat(15)}${".".repeat(15)}] 500/1000 events, 250 events/s, ETA 2 s\x1b[K`,
      "\n",
    ]);
  });

  it("writes plain lines elsewhere: at each phase's start and end, and at most every 2 s", () => {
    const out = recorder(false);
    let clock = 0;
    const progress = createProgress(out, () => clock);
    progress.update({ phase: "read", done: 1, total: 2 });
    clock += 500;
    progress.update({ phase: "read", done: 2, total: 2 });
    progress.update({ phase: "apply", done: 10, total: 100 });
    clock += 1_000;
    progress.update({ phase: "apply", done: 50, total: 100 });
    clock += 1_500;
    progress.update({ phase: "apply", done: 100, total: 100 });
    progress.end();
    expect(out.written).toEqual([
      "restore: read 1/2 segments\n",
      "restore: read 2/2 segments, ETA 0 s\n",
      "restore: apply 10/100 events, 0 events/s\n",
      "restore: apply 100/100 events, 40 events/s, ETA 0 s\n",
    ]);
  });

  it("writes the last line of a phase that ends short of its total (a restore cut by --to-time)", () => {
    const out = recorder(false);
    let clock = 0;
    const progress = createProgress(out, () => clock);
    progress.update({ phase: "read", done: 1, total: 7 });
    clock += 100;
    progress.update({ phase: "read", done: 4, total: 7 });
    progress.update({ phase: "apply", done: 0, total: 598 });
    clock += 500;
    progress.update({ phase: "apply", done: 300, total: 598 });
    progress.end();
    expect(out.written).toEqual([
      "restore: read 1/7 segments\n",
      "restore: read 4/7 segments, ETA 1 s\n",
      "restore: apply 0/598 events, 0 events/s\n",
      "restore: apply 300/598 events, 600 events/s, ETA 1 s\n",
    ]);
  });
});
