/**
 * Node's process warnings as log lines. Node prints a warning to stderr as plain text
 * ("(node:1234) SomeWarning: …"), between the server's JSON lines, where a log shipper
 * cannot parse it; `entdb serve` logs each one instead, at `warn`, with its name, code
 * and message.
 *
 * One is known and harmless: kafkajs 2.2.4 on Node 24 computes a negative delay for a
 * timer when it connects (tulios/kafkajs#1751) and Node runs the timer after 1 ms, as
 * kafkajs meant. That one is logged at `debug`.
 */

import type { Logger } from "./log.ts";

/** Logs the process's warnings through `log` in place of Node's own printing. */
export function logProcessWarnings(log: Logger): void {
  // Node's printer is its own listener of the event (none with --no-warnings or
  // NODE_NO_WARNINGS=1, and then nothing is logged either, as the user asked).
  const printers = process.listeners("warning");
  if (printers.length === 0) return;
  for (const printer of printers) process.off("warning", printer);
  process.on("warning", (warning) => {
    const fields = {
      warning: warning.name,
      ...("code" in warning && typeof warning.code === "string" ? { code: warning.code } : {}),
      message: warning.message,
    };
    if (isKafkaJsNegativeTimer(warning)) log.debug("known kafkajs timer warning", fields);
    else log.warn("runtime warning", fields);
  });
}

/** The negative timer kafkajs's request queue schedules on Node 24 (tulios/kafkajs#1751). */
function isKafkaJsNegativeTimer(warning: Error): boolean {
  return (
    warning.name === "TimeoutNegativeWarning" &&
    (warning.stack ?? "").includes("kafkajs/src/network/requestQueue")
  );
}
