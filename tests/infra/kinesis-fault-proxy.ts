/**
 * A fault injector for Kinesis tests: an HTTP proxy on loopback in front of the real
 * Kinesis-compatible server, which forwards every request unchanged until told to
 * misbehave. Faults the real service has but a local server cannot be made to show:
 *
 * - `down()` / `up()`: the port refuses connections (an outage; moto itself keeps its
 *   state, which a stopped moto would lose).
 * - `throttleRequests(n)`: the next `n` PutRecords requests are answered with HTTP 400
 *   `ProvisionedThroughputExceededException`, as Kinesis does when a whole request is
 *   over the shard's limits.
 * - `failRecords(pick)`: in the next PutRecords request, the records `pick` chooses are
 *   not forwarded and are answered with a per-record
 *   `ProvisionedThroughputExceededException` (a partial failure); the rest are written.
 * - `cutAfterWrite(n)`: the next `n` PutRecords requests are forwarded (so written) but
 *   the client's connection is cut instead of answered: an acknowledgement lost in transit.
 * - `reshardOnWrite()`: the next PutRecords answer names another shard for every record
 *   it wrote, as Kinesis does once a split routed the hash key to a child shard.
 * - `endShardReads()`: from now on GetRecords answers carry no `NextShardIterator`, as
 *   when a reader reaches the end of a closed (split or merged) shard.
 *
 * moto shows neither of the last two after a real split (it keeps routing to and
 * reading from the closed parent), hence the injection.
 *
 * moto does not check request signatures, so rewriting a PutRecords body is invisible to it.
 * Every answer closes its connection, so after `down()` the next request is refused for
 * certain instead of failing on a pooled socket the client had not yet seen closed.
 */

import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";

interface PutRecordsBody {
  StreamName?: string;
  Records: unknown[];
}

interface PutRecordsAnswer {
  FailedRecordCount: number;
  Records: Record<string, unknown>[];
}

/** A running proxy. */
export class KinesisFaultProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the real endpoint. */
  readonly url: string;
  /** PutRecords requests seen (forwarded or not). */
  putRequests = 0;
  readonly #target: URL;
  readonly #port: number;
  #server: Server;
  readonly #sockets = new Set<Socket>();
  #throttle = 0;
  #cut = 0;
  #reshardWrite = false;
  #endReads = false;
  #pick: ((index: number) => boolean) | undefined;

  private constructor(server: Server, port: number, target: string) {
    this.#server = server;
    this.#port = port;
    this.#target = new URL(target);
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts a proxy to `target` on a free loopback port. */
  static async start(target: string): Promise<KinesisFaultProxy> {
    let proxy: KinesisFaultProxy | undefined;
    const server = createServer((req, res) => {
      proxy?.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    proxy = new KinesisFaultProxy(server, address.port, target);
    proxy.#track(server);
    return proxy;
  }

  #track(server: Server): void {
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  throttleRequests(n: number): void {
    this.#throttle = n;
  }

  failRecords(pick: (index: number) => boolean): void {
    this.#pick = pick;
  }

  cutAfterWrite(n: number): void {
    this.#cut = n;
  }

  reshardOnWrite(): void {
    this.#reshardWrite = true;
  }

  endShardReads(): void {
    this.#endReads = true;
  }

  /** Stops listening and cuts every open connection: new ones are refused. */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    this.#track(server);
    await new Promise<void>((resolve) => server.listen(this.#port, "127.0.0.1", resolve));
    this.#server = server;
  }

  async close(): Promise<void> {
    await this.down().catch(() => {});
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    const isPut = target.endsWith(".PutRecords");
    if (isPut) {
      this.putRequests++;
      if (this.#throttle > 0) {
        this.#throttle--;
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1", connection: "close" });
        res.end(
          JSON.stringify({
            __type: "ProvisionedThroughputExceededException",
            message: "Rate exceeded for shard (injected).",
          }),
        );
        return;
      }
    }
    const pick = isPut ? this.#pick : undefined;
    let dropped: boolean[] = [];
    if (pick !== undefined) {
      this.#pick = undefined;
      const parsed = JSON.parse(body.toString("utf8")) as PutRecordsBody;
      dropped = parsed.Records.map((_, i) => pick(i));
      parsed.Records = parsed.Records.filter((_, i) => !dropped[i]);
      body = Buffer.from(JSON.stringify(parsed));
    }
    const cut = isPut && this.#cut > 0;
    if (cut) this.#cut--;
    const upstream = await this.#forward(req, body);
    if (cut) {
      req.socket.destroy();
      return;
    }
    let out = upstream.body;
    if (isPut && this.#reshardWrite && upstream.status === 200) {
      this.#reshardWrite = false;
      const answer = JSON.parse(out.toString("utf8")) as PutRecordsAnswer;
      for (const record of answer.Records) {
        if (record["ShardId"] !== undefined) record["ShardId"] = "shardId-000000000999";
      }
      out = Buffer.from(JSON.stringify(answer));
    }
    if (target.endsWith(".GetRecords") && this.#endReads && upstream.status === 200) {
      const answer = JSON.parse(out.toString("utf8")) as Record<string, unknown>;
      delete answer["NextShardIterator"];
      out = Buffer.from(JSON.stringify(answer));
    }
    if (pick !== undefined && upstream.status === 200) {
      const answer = JSON.parse(out.toString("utf8")) as PutRecordsAnswer;
      const written = answer.Records[Symbol.iterator]();
      const records = dropped.map((drop) =>
        drop
          ? {
              ErrorCode: "ProvisionedThroughputExceededException",
              ErrorMessage: "Rate exceeded for shard (injected).",
            }
          : (written.next().value as Record<string, unknown>),
      );
      out = Buffer.from(
        JSON.stringify({
          ...answer,
          FailedRecordCount: dropped.filter(Boolean).length,
          Records: records,
        }),
      );
    }
    const headers = {
      ...upstream.headers,
      "content-length": String(out.byteLength),
      connection: "close",
    };
    res.writeHead(upstream.status, headers);
    res.end(out);
  }

  #forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }> {
    return new Promise((resolve, reject) => {
      const headers = {
        ...req.headers,
        host: this.#target.host,
        "content-length": String(body.byteLength),
      };
      const upstream = request(
        {
          host: this.#target.hostname,
          port: this.#target.port,
          method: req.method,
          path: req.url,
          headers,
        },
        async (response) => {
          const chunks: Buffer[] = [];
          for await (const chunk of response) chunks.push(chunk as Buffer);
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            body: Buffer.concat(chunks),
          });
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });
  }
}
