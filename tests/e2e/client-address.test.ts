/**
 * A client pointed at the wrong address of a real `entdb serve`: the ops port (health,
 * readiness, metrics) answers a call with a bare HTTP status, which the client names as
 * such with the port to use instead; an address without its scheme is refused when the
 * transport is made, not by the first call's "Invalid URL".
 */

import { describe, expect, it } from "vitest";
import { EntDbClientCore } from "../../runtime/client-core.ts";
import { EntDbError } from "../../runtime/entdb-error.ts";
import { createNodeTransport } from "../../runtime/node.ts";
import { createWebTransport } from "../../runtime/web.ts";
import { serverPerFile, TRACKER } from "./e2e-helpers.ts";

const server = serverPerFile();

const OPS_PORT_MESSAGE =
  "HTTP 405: the server at the transport's baseUrl serves no EntDB API; use its API port (entdb serve --port, default 50051), not its ops port (--http-port, default 8080, for /health, /ready and /metrics).";

describe("a client at the wrong address", () => {
  it("names the API port when its baseUrl is the ops port, over Node and fetch", async () => {
    const baseUrl = `http://127.0.0.1:${server.httpPort}`;
    for (const transport of [createNodeTransport({ baseUrl }), createWebTransport({ baseUrl })]) {
      const core = new EntDbClientCore({ transport, tenant: "acme" });
      const err = await core.queryNodes({ typeId: TRACKER.team }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EntDbError);
      expect([(err as EntDbError).code, (err as EntDbError).message]).toEqual([
        "unknown",
        OPS_PORT_MESSAGE,
      ]);
    }
    // The API port answers the same call.
    const api = new EntDbClientCore({
      transport: createNodeTransport({ baseUrl: server.url }),
      tenant: "acme",
    });
    expect((await api.queryNodes({ typeId: TRACKER.team })).nodes).toEqual([]);
  });

  it("refuses a baseUrl without its scheme when the Node transport is made", () => {
    const bare = server.url.slice("http://".length);
    expect(() => createNodeTransport({ baseUrl: bare })).toThrow(
      new TypeError(
        `createNodeTransport: baseUrl must be the server's API address, http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:50051); got '${bare}'.`,
      ),
    );
  });
});
