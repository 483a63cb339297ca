/**
 * The HTTP port for operators: `/health` (the process is up), `/ready` (the
 * applier has caught up with the log, so reads are fresh) and `/metrics`
 * (Prometheus text).
 *
 * While any degraded source gives a reason (the log cannot commit, …), `/ready` answers
 * 503 and `/health` answers 200 with status "degraded", both listing the reasons.
 * `/health` stays 200 because a restart does not fix what degrades the server (a full
 * disk) and the sources recover by themselves; `/ready` takes it out of rotation.
 * `/ready`'s body also carries the server's {@link ReadyDetails} (the archive's lag, when
 * archiving), whatever its status.
 */

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServerMetrics } from "./metrics.ts";

/** A running ops server. */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * One part of the server that can degrade it: returns why it cannot do its job now, in
 * words for an operator, or nothing while it is well. Called on every probe; must be cheap.
 */
export type DegradedSource = () => readonly string[];

/** Figures `/ready` adds to its body beside `status`, e.g. `{ archive_lag_records: 12 }`. */
export type ReadyDetails = () => Promise<Readonly<Record<string, number | string>>>;

/** Every reason the sources give now, in source order. */
export function degradedReasons(sources: readonly DegradedSource[]): string[] {
  return sources.flatMap((source) => source());
}

/** Starts the ops server. */
export async function startOpsServer(options: {
  readonly host: string;
  readonly port: number;
  readonly metrics: ServerMetrics;
  ready(): Promise<boolean>;
  /** What can degrade the server; see the module comment. */
  readonly degraded?: readonly DegradedSource[];
  readonly readyDetails?: ReadyDetails;
  /** Runs before `/metrics` is rendered (the serving threads' counts are pulled in, server/threads). */
  readonly beforeMetrics?: () => Promise<void>;
}): Promise<OpsServer> {
  const details = options.readyDetails ?? (async () => ({}));
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    const reasons = degradedReasons(options.degraded ?? []);
    const degraded = `${JSON.stringify({ status: "degraded", reasons })}\n`;
    if (path === "/health") {
      return send(200, reasons.length > 0 ? degraded : '{"status":"ok"}\n', "application/json");
    }
    if (path === "/ready") {
      const answer = (status: number, body: Record<string, unknown>) =>
        details().then(
          (extra) => send(status, `${JSON.stringify({ ...body, ...extra })}\n`, "application/json"),
          () => send(status, `${JSON.stringify(body)}\n`, "application/json"),
        );
      if (reasons.length > 0) {
        void answer(503, { status: "degraded", reasons });
        return;
      }
      // A log that cannot be read (brokers down) says why, as a degraded source would.
      options.ready().then(
        (ok) => answer(ok ? 200 : 503, { status: ok ? "ready" : "catching up" }),
        (err: unknown) =>
          answer(503, {
            status: "degraded",
            reasons: [
              `Cannot tell whether the applier caught up with the log: ${err instanceof Error ? err.message : String(err)}`,
            ],
          }),
      );
      return;
    }
    if (path === "/metrics") {
      (options.beforeMetrics?.() ?? Promise.resolve())
        .then(() => options.metrics.registry.metrics())
        .then(
          (text) => send(200, text, options.metrics.registry.contentType),
          () => send(500, "metrics failed\n"),
        );
      return;
    }
    send(404, "not found: try /health, /ready or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
