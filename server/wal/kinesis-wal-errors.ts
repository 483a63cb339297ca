/**
 * How the Kinesis log reads AWS SDK failures: whether a failed request may still have
 * written its records (which decides whether their offsets can be given away again),
 * whether to back off and retry, and which `WalError` a caller gets.
 */

import { WalError } from "./wal.ts";

/** A failed request, as the Kinesis log sees it. */
export interface KinesisFailure {
  /** False only when Kinesis certainly wrote none of the request's records. */
  readonly maybeWritten: boolean;
  /** Whether trying again later can succeed (outage, throttling), as opposed to a refusal. */
  readonly retriable: boolean;
  /** Kinesis asked us to slow down. */
  readonly throttled: boolean;
  /** One line for logs and error messages. */
  readonly description: string;
}

/** Error names that mean the request was refused as asked, and asking again will not help. */
const REFUSED = new Set([
  "ValidationException",
  "InvalidArgumentException",
  "AccessDeniedException",
  "KMSAccessDeniedException",
  "KMSDisabledException",
  "KMSInvalidStateException",
  "KMSNotFoundException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);

/** Socket errors raised before a request could reach the server. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

const THROTTLED = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "ThrottlingException",
]);

function field(error: unknown, name: string): unknown {
  return typeof error === "object" && error !== null
    ? (error as Record<string, unknown>)[name]
    : undefined;
}

/** The HTTP status of an SDK service error, if the server answered. */
function httpStatus(error: unknown): number | undefined {
  const status = field(field(error, "$metadata"), "httpStatusCode");
  return typeof status === "number" ? status : undefined;
}

/** Classifies a thrown SDK or socket error. */
export function classifyKinesisError(error: unknown): KinesisFailure {
  const name = String(field(error, "name") ?? "Error");
  const code = String(field(error, "code") ?? field(field(error, "cause"), "code") ?? "");
  const message = error instanceof Error ? error.message : String(error);
  const description = `${name}${code && code !== name ? ` ${code}` : ""}: ${message}`;
  const status = httpStatus(error);
  if (THROTTLED.has(name)) {
    return { maybeWritten: false, retriable: true, throttled: true, description };
  }
  if (NOT_SENT.has(code)) {
    return { maybeWritten: false, retriable: true, throttled: false, description };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    // The server answered and refused the whole request: nothing of it was written.
    return {
      maybeWritten: false,
      retriable: !REFUSED.has(name) && name !== "ResourceNotFoundException",
      throttled: false,
      description,
    };
  }
  // A timeout, a cut connection or a 5xx: the request may have been carried out.
  return { maybeWritten: true, retriable: true, throttled: false, description };
}

/** A `WalError` for a failure of `what`, keeping the SDK error as its cause. */
export function toKinesisWalError(error: unknown, what: string): WalError {
  if (error instanceof WalError) return error;
  const failure = classifyKinesisError(error);
  const code = failure.retriable ? "unavailable" : "invalid";
  return new WalError(code, `${what}: ${failure.description}`, { cause: error });
}

/** Sleeps `ms`, or less if `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Exponential backoff with ±20 % jitter: `base * 2^attempt`, capped at `max`. */
export function backoffMs(attempt: number, base: number, max: number): number {
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}
