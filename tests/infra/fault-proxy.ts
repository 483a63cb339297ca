/**
 * A loopback TCP proxy that can cut and refuse connections: put between a client and a
 * server to make the server look down for a while without losing its state (moto keeps
 * its buckets in memory, so stopping it would lose them).
 */

import * as net from "node:net";

/** A running proxy. */
export interface FaultProxy {
  /** `127.0.0.1:port` clients connect to. */
  readonly port: number;
  /** Cuts every open connection and resets new ones until {@link heal}. */
  cut(): void;
  /** Forwards connections again. */
  heal(): void;
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (`host:port`). */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const open = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      down = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    heal() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
