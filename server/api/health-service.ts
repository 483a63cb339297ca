/**
 * The standard gRPC health service. "" (the whole server) and each served service
 * name report SERVING once the server accepts requests and NOT_SERVING while it
 * shuts down or is degraded (the log cannot commit: the same reasons that make `/ready`
 * answer 503).
 */

import { ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../generated/grpc/health/v1/health_pb.js";

/** Where the health answer comes from. */
export interface HealthSource {
  readonly serviceNames: readonly string[];
  /** False while starting up, shutting down or degraded. */
  serving(): boolean;
}

/** Creates the health service implementation. */
export function createHealthService(source: HealthSource): ServiceImpl<typeof Health> {
  const status = (service: string) => {
    if (service !== "" && !source.serviceNames.includes(service)) {
      return ServingStatus.SERVICE_UNKNOWN;
    }
    return source.serving() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  return {
    check(req) {
      return { status: status(req.service) };
    },
    async *watch(req, context) {
      let last: ServingStatus | undefined;
      while (!context.signal.aborted) {
        const now = status(req.service);
        if (now !== last) {
          last = now;
          yield { status: now };
        }
        await pause(1_000, context.signal);
      }
      // Its deadline, or the shutdown, ends the watch with that code (a client that left reads nothing).
      const reason: unknown = context.signal.reason;
      if (reason instanceof ConnectError) throw reason;
    },
  };
}

/** Resolves after `ms`, or as soon as `signal` aborts (the call's deadline, its client leaving). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
