/**
 * The worker threads of a restore's apply phase, started as the restore begins so they
 * load their modules (restore-apply-worker.ts: only what applying the log uses) while
 * the archive downloads instead of while the restore's own applier waits for them. A started worker waits for its work
 * (`RestoreWorkerData`, posted by `applyRestoredLogInParallel`, restore-apply.ts);
 * workers the apply phase does not need (fewer tenants than threads) are ended unused.
 */

import { rmSync } from "node:fs";
import { getCompileCacheDir } from "node:module";
import { Worker } from "node:worker_threads";
import { InternalError } from "../internal-error.ts";
import type { RestoreWorkerCommand } from "./restore-apply.ts";

// `.ts` run from the sources, `.js` compiled in the published package.
const workerUrl = new URL(
  import.meta.url.endsWith(".ts") ? "./restore-apply-worker.ts" : "./restore-apply-worker.js",
  import.meta.url,
);

/** A started worker, and how it ended (listened to from its start, so nothing is missed while it idles). */
export interface StartedWorker {
  readonly worker: Worker;
  /** Settles with the reason once the thread failed or exited, whichever comes first. */
  readonly ended: Promise<unknown>;
}

function startWorker(): StartedWorker {
  // A worker does not inherit the compile cache `entdb` enables on its main thread
  // (bin/entdb.ts); given its directory, it loads the same modules from it, in about
  // half the CPU (their compiled code, and for the `.ts` sources their stripped text).
  const cacheDir = getCompileCacheDir();
  const worker = new Worker(
    workerUrl,
    cacheDir === undefined ? {} : { env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } },
  );
  const ended = new Promise<unknown>((resolve) => {
    worker.once("error", resolve);
    worker.once("exit", (code) =>
      resolve(
        new InternalError(
          "invariant",
          `A restore thread exited (code ${code}) before it was done.`,
        ),
      ),
    );
  });
  return { worker, ended };
}

/** Worker threads started ahead of a restore's apply phase; {@link close} ends them all. */
export class RestoreWorkers {
  readonly #idle: StartedWorker[] = [];
  readonly #all: StartedWorker[] = [];
  /** Templates the workers were asked to make ({@link makeTemplates}), removed by {@link close}. */
  readonly #templates: string[] = [];

  /**
   * Asks each started worker to make its template for new tenant files now, for the log
   * `identity`, at `templatePath(i)` (`prepareBaseTemplate`, restore-apply.ts), so the
   * apply phase does not wait for it. A worker that cannot makes one when it is given
   * work, as it would without this.
   */
  makeTemplates(identity: string, templatePath: (i: number) => string): void {
    for (const { worker } of this.#idle) {
      const path = templatePath(this.#templates.length);
      this.#templates.push(path);
      worker.postMessage({ kind: "template", identity, path } satisfies RestoreWorkerCommand);
    }
  }

  /** Starts `count` more workers. */
  start(count: number): void {
    for (let i = 0; i < count; i++) {
      const started = startWorker();
      this.#all.push(started);
      this.#idle.push(started);
    }
  }

  /** Takes `count` of the started workers (starting more if fewer are left). */
  take(count: number): StartedWorker[] {
    const taken = this.#idle.splice(0, count);
    while (taken.length < count) {
      const started = startWorker();
      this.#all.push(started);
      taken.push(started);
    }
    return taken;
  }

  /** Ends every worker, taken or not; resolves once they exited. */
  async close(): Promise<void> {
    this.#idle.length = 0;
    await Promise.all(this.#all.map((w) => w.worker.terminate()));
    // A worker given work removed its own; one ended unused did not.
    for (const path of this.#templates)
      for (const suffix of ["", "-wal", "-shm", "-journal"])
        rmSync(`${path}${suffix}`, { force: true });
  }
}
