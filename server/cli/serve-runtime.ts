/**
 * The V8 settings `entdb serve` runs with, and the restart that applies them.
 *
 * V8 sizes the young generation (where short-lived objects go) from flags read when the
 * process starts, up to 16 MB per semi-space by default. A server allocates a little per
 * request, and at that size keeps much more resident than it needs; a smaller young
 * generation costs no throughput (docs/architecture.md has the measurements). A running
 * process cannot change the setting, so `entdb serve` replaces itself (`process.execve`:
 * the same process id and standard streams, no parent left behind) with one started with
 * the flag. The restart happens before anything else loads. It is skipped when the
 * flag is already given (on the command line or in `NODE_OPTIONS`) and where `execve`
 * does not exist (Windows).
 */

/** The flags `entdb serve` adds when they are not set. */
export const SERVE_V8_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/**
 * Restarts the process with {@link SERVE_V8_FLAGS} when `argv` runs `serve` and the
 * flags are missing; returns (doing nothing) otherwise.
 */
export function restartWithServeFlags(argv: readonly string[]): void {
  if (argv[2] !== "serve" || typeof process.execve !== "function") return;
  if (process.platform === "win32") return;
  const given = [...process.execArgv, ...(process.env["NODE_OPTIONS"] ?? "").split(/\s+/)];
  const missing = SERVE_V8_FLAGS.filter(
    (flag) => !given.some((g) => g.startsWith(flag.split("=")[0] ?? flag)),
  );
  if (missing.length === 0) return;
  process.execve(process.execPath, [
    process.execPath,
    ...missing,
    ...process.execArgv,
    ...argv.slice(1),
  ]);
}
