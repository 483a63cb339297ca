/**
 * The process the WAL crash tests kill. Opens the embedded log and appends, printing one
 * line per acknowledged call to stdout with a synchronous write, so that a line the
 * parent reads is an append the log acknowledged before the process died:
 *
 *   ready                              the log is open
 *   ack <call> <p>/<o> [<p>/<o> …]     positions of the call's records, in record order
 *   done                               (sequential mode) every append was acknowledged
 *
 * Modes: `loops` runs `loops` concurrent appenders forever (the parent kills it);
 * `sequential` appends `count` calls one at a time, prints `done` and waits to be killed.
 * Usage: `node wal-crash-child.ts '<CrashChildConfig JSON>'`.
 */

import { writeSync } from "node:fs";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalPosition } from "../../server/wal/wal.ts";
import type { WalWriterPlacement } from "../../server/wal/wal-writer.ts";
import { crashRecords } from "./crash-records.ts";

/** What the parent asks of the child. */
export interface CrashChildConfig {
  readonly path: string;
  readonly partitions: number;
  readonly writer: WalWriterPlacement;
  /** Distinguishes this child's records from earlier rounds' in the same log. */
  readonly round: number;
  readonly mode: "loops" | "sequential";
  /** Concurrent appenders (`loops` mode); one in `sequential` mode. */
  readonly loops: number;
  /** Calls to append (`sequential` mode). */
  readonly count: number;
  readonly maxFiller: number;
}

/** Writes a whole line now; retries if the pipe is momentarily full. */
function emit(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
    }
  }
}

function ack(round: number, loop: number, seq: number, positions: readonly WalPosition[]): void {
  emit(
    `ack ${round}.${loop}.${seq} ${positions.map((p) => `${p.partition}/${p.offset}`).join(" ")}`,
  );
}

const config = JSON.parse(process.argv[2] ?? "") as CrashChildConfig;
const wal = await openEmbeddedWal({
  path: config.path,
  partitions: config.partitions,
  writer: config.writer,
});
emit("ready");

if (config.mode === "sequential") {
  for (let seq = 0; seq < config.count; seq++) {
    ack(
      config.round,
      0,
      seq,
      await wal.append(crashRecords(config.round, 0, seq, config.maxFiller)),
    );
  }
  emit("done");
  // Stay alive, log open, until killed.
  setInterval(() => {}, 60_000);
} else {
  const loop = async (id: number): Promise<void> => {
    for (let seq = 0; ; seq++) {
      ack(
        config.round,
        id,
        seq,
        await wal.append(crashRecords(config.round, id, seq, config.maxFiller)),
      );
    }
  };
  await Promise.all(Array.from({ length: config.loops }, (_, id) => loop(id)));
}
