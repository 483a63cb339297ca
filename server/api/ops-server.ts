/**
 * The HTTP port for operators: `/health` (the process is up), `/ready` (the
 * applier has caught up with the log, so reads are fresh, and nothing is degraded)
 * and `/metrics` (Prometheus text).
 */

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServerMetrics } from "./metrics.ts";

/** A running ops server. */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the ops server. */
export async function startOpsServer(options: {
  readonly host: string;
  readonly port: number;
  readonly metrics: ServerMetrics;
  ready(): Promise<boolean>;
  /**
   * Why the server is degraded (a parked tenant, …), one sentence each; any reason
   * makes `/ready` answer 503 `{"status":"degraded","reasons":[…]}`.
   */
  degradedReasons?(): readonly string[];
}): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    if (path === "/health") return send(200, '{"status":"ok"}\n', "application/json");
    if (path === "/ready") {
      const reasons = options.degradedReasons?.() ?? [];
      if (reasons.length > 0) {
        return send(
          503,
          `${JSON.stringify({ status: "degraded", reasons })}\n`,
          "application/json",
        );
      }
      options.ready().then(
        (ok) =>
          send(
            ok ? 200 : 503,
            ok ? '{"status":"ready"}\n' : '{"status":"catching up"}\n',
            "application/json",
          ),
        () => send(503, '{"status":"error"}\n', "application/json"),
      );
      return;
    }
    if (path === "/metrics") {
      options.metrics.registry.metrics().then(
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
