/**
 * The worker-thread side of `applyRestoredLogInParallel` (restore-apply.ts): applies the
 * tenants it was given from the records the read phase holds (or its copy of the restored
 * log where they are not held), reports progress and log lines
 * to the restore, and answers with the tenants it parked. Started only by the restore;
 * not an entry point of its own.
 */

import { enableCompileCache } from "node:module";
import { parentPort } from "node:worker_threads";
import type { Logger } from "../log.ts";
import type {
  PreparedTemplate,
  RestoreWorkerCommand,
  RestoreWorkerData,
  RestoreWorkerMessage,
} from "./restore-apply.ts";

// Node's compile cache, as `entdb` has it on its own thread (bin/entdb.ts): a worker is
// a Node instance of its own, which the process's cache does not cover, and loading the
// applier's modules is most of what starting one costs. On before they load, so they are
// imported below, not statically; a cache it cannot use changes nothing. What they import
// is kept to what applying the log uses (restore-apply.ts imports by file, the schema's
// model through schema/served.ts): no store read paths, search, schema compiler, Kafka
// or Kinesis clients.
enableCompileCache();
const [{ InternalError }, { applyRestoredLog, prepareBaseTemplate }, { unpackRecords }] =
  await Promise.all([
    import("../internal-error.ts"),
    import("./restore-apply.ts"),
    import("./restore-records.ts"),
  ]);

const port = parentPort;
if (port === null)
  throw new InternalError("invariant", "restore-apply-worker.ts must run as a worker thread.");
const post = (message: RestoreWorkerMessage): void => port.postMessage(message);

/** Log lines go to the restore's logger on the main thread. */
function forwardingLogger(base: Record<string, unknown>): Logger {
  const line =
    (level: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields?: Record<string, unknown>) => {
      try {
        post({ kind: "log", level, msg, fields: { ...base, ...fields } });
      } catch {
        // A field structured cloning cannot copy (a function): the line goes as text.
        post({ kind: "log", level, msg, fields: { detail: String(JSON.stringify(fields)) } });
      }
    };
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    child: (fields) => forwardingLogger({ ...base, ...fields }),
  };
}

// Started ahead of the apply phase (restore-workers.ts): the work comes once the archive is read.
let received: (data: RestoreWorkerData) => void = () => {};
const work = new Promise<RestoreWorkerData>((resolve) => {
  received = resolve;
});
let openable: () => void = () => {};
const open = new Promise<void>((resolve) => {
  openable = resolve;
});
let go: () => void = () => {};
const start = new Promise<void>((resolve) => {
  go = resolve;
});
// Made while the archive is read; one that failed is made again when the work comes
// (applyRestoredLog), which reports what fails then.
let template: PreparedTemplate | undefined;
port.on("message", (message: RestoreWorkerCommand) => {
  if (message.kind === "template") {
    try {
      template = prepareBaseTemplate(message.path, message.identity);
    } catch {
      template = undefined;
    }
  } else if (message.kind === "work") received(message.data);
  else if (message.kind === "open") openable();
  else go();
});
const data = await work;
const records = data.records ? unpackRecords(data.records) : undefined;
await open;

let lastProgress = 0;
try {
  const applied = await applyRestoredLog({
    dataDir: data.dataDir,
    logPath: data.logPath,
    ...(data.identity !== undefined ? { identity: data.identity } : {}),
    ends: data.ends,
    log: forwardingLogger({}),
    tenants: new Set(data.tenants),
    maxOpenTenants: data.maxOpenTenants,
    ...(records ? { records } : {}),
    ...(data.firstVersions ? { firstVersions: data.firstVersions } : {}),
    ...(data.small ? { small: new Set(data.small) } : {}),
    ...(template ? { template } : {}),
    opened: () => {
      post({ kind: "opened" });
      return start;
    },
    progress: (done) => {
      if (done === lastProgress) return;
      lastProgress = done;
      post({ kind: "progress", done });
    },
  });
  post({ kind: "done", applied });
} catch (error) {
  post({ kind: "failed", error });
}
