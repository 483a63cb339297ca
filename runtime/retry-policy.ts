/**
 * Bounded retries with exponential backoff for calls that failed with UNAVAILABLE
 * (the server is restarting, the tenant is moving, a read-your-writes wait timed
 * out). Retrying a write is safe because every plan carries an idempotency key that
 * stays the same across attempts: the server returns the first outcome.
 */

import { Code, ConnectError } from "@connectrpc/connect";

/** How a client retries. */
export interface RetryOptions {
  /**
   * Attempts in total, the first included (default 6: with the default delays the last
   * one goes about 1.5–3 s after the first, the time a server takes to restart; 1
   * disables retries).
   */
  readonly maxAttempts?: number;
  /** Delay before the second attempt, in ms (default 100); it doubles each time. */
  readonly initialDelayMs?: number;
  /** Upper bound of one delay, in ms (default 2000). */
  readonly maxDelayMs?: number;
  /** Source of jitter in [0, 1) (default `Math.random`); tests pass a constant. */
  readonly random?: () => number;
}

/** The defaults, resolved. */
export const DEFAULT_RETRY: Required<RetryOptions> = {
  maxAttempts: 6,
  initialDelayMs: 100,
  maxDelayMs: 2000,
  random: Math.random,
};

/**
 * The delay before attempt `attempt + 1` (attempt counts from 1): exponential, capped,
 * with jitter in [50%, 100%] so clients that failed together do not retry together.
 */
export function backoffDelay(options: Required<RetryOptions>, attempt: number): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + options.random() / 2));
}

/** Whether an error is worth another attempt. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.Unavailable;
}

/**
 * Runs `call` until it succeeds, fails with a non-retryable error, or runs out of
 * attempts; the last error is rethrown unchanged. Stops early when `signal` aborts:
 * during a wait between attempts with a CANCELED `ConnectError` carrying the abort's
 * reason, as an abort during a call rejects, so callers see one kind of error.
 */
export async function withRetry<T>(
  options: Required<RetryOptions>,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= options.maxAttempts || !isRetryable(err) || signal?.aborted === true)
        throw err;
      await sleep(backoffDelay(options, attempt), signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ms <= 0) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(ConnectError.from(signal?.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
