/**
 * The loop behind `entdb generate --watch`: run once, then again after the schema file
 * changes. It watches the schema's directory, not the file, because editors often save
 * by writing a new file and renaming it over the old one, which ends a watch on the
 * file itself.
 */

import { watch } from "node:fs";
import { basename, dirname } from "node:path";

/** How long the file must stay quiet before a run: one save fires several events. */
export const WATCH_DEBOUNCE_MS = 100;

/**
 * Calls `run` now and after each burst of changes to `schemaFile`, never two runs at
 * once (a change during a run queues one more). Resolves when `signal` aborts and the
 * current run, if any, has finished. `run` must not throw; it reports its own errors.
 */
export async function watchSchema(
  schemaFile: string,
  signal: AbortSignal,
  run: () => Promise<void>,
  debounceMs: number = WATCH_DEBOUNCE_MS,
): Promise<void> {
  const name = basename(schemaFile);
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const start = (): void => {
    if (signal.aborted) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = run().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        start();
      }
    });
  };

  const watcher = watch(dirname(schemaFile), (_event, file) => {
    if (file !== null && file !== name) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(start, debounceMs);
  });
  start();
  await new Promise<void>((resolveStop) => {
    if (signal.aborted) resolveStop();
    else signal.addEventListener("abort", () => resolveStop(), { once: true });
  });
  watcher.close();
  if (timer !== undefined) clearTimeout(timer);
  while (running !== undefined) await running;
}
