/**
 * The archiver's signed put over its keep-alive connections, against a real HTTP server
 * on loopback that keeps connections open (moto closes each one, so the archive tests
 * against it never reuse a connection) and can drop one the way a server closing an
 * idle connection does.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { S3SignedPut } from "../../server/archive/s3-signed-put.ts";

interface Seen {
  readonly connection: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server numbering its connections; `answer` decides each request's fate. */
async function startServer(
  answer: (seen: Seen, index: number, res: ServerResponse, socket: Socket) => void,
): Promise<{ endpoint: string; seen: Seen[]; connections: () => number }> {
  const seen: Seen[] = [];
  const ids = new WeakMap<Socket, number>();
  let connections = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = {
        connection: ids.get(req.socket)!,
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      answer(entry, seen.length - 1, res, req.socket);
    });
  });
  server.on("connection", (socket: Socket) => ids.set(socket, ++connections));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, seen, connections: () => connections };
}

function signedPut(endpoint: string, requestTimeoutMs = 5000): S3SignedPut {
  const client = new S3Client({
    endpoint,
    region: "eu-west-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  return new S3SignedPut({
    client,
    bucket: "bkt",
    endpoint,
    connectionTimeoutMs: 2000,
    requestTimeoutMs,
  });
}

describe("signed put", () => {
  it("sends a path-style PUT signed for the client's region, with the body's sha256", async () => {
    const { endpoint, seen } = await startServer((_, __, res) => res.end());
    const put = signedPut(endpoint);
    const status = await put.put("pre fix/wal/a+b(1)!.seg.gz", new TextEncoder().encode("body"), {
      "if-none-match": "*",
      "x-amz-meta-sha256": "abc",
    });
    put.close();
    expect(status).toBe(200);
    const [request] = seen;
    expect(request!.method).toBe("PUT");
    expect(request!.url).toBe("/bkt/pre%20fix/wal/a%2Bb%281%29%21.seg.gz");
    expect(request!.body).toBe("body");
    expect(request!.headers["if-none-match"]).toBe("*");
    expect(request!.headers["x-amz-meta-sha256"]).toBe("abc");
    expect(request!.headers["x-amz-content-sha256"]).toBe(
      "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5",
    );
    expect(request!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*\bif-none-match;[a-z0-9;-]*x-amz-content-sha256;x-amz-date;x-amz-meta-sha256, Signature=[0-9a-f]{64}$/,
    );
  });

  it("answers S3's status as it is, a refusal included", async () => {
    const { endpoint } = await startServer((_, __, res) => {
      res.statusCode = 412;
      res.end("<Error><Code>PreconditionFailed</Code></Error>");
    });
    const put = signedPut(endpoint);
    expect(await put.put("k", new Uint8Array([1]), {})).toBe(412);
    put.close();
  });

  it("reuses one connection for successive puts and sends a put again once when its kept connection was dropped", async () => {
    const { endpoint, seen, connections } = await startServer((entry, index, res, socket) => {
      // The second request on the first connection: dropped without an answer.
      if (entry.connection === 1 && index === 1) socket.destroy();
      else res.end();
    });
    const put = signedPut(endpoint);
    const statuses: number[] = [];
    for (const key of ["a", "b", "c"]) statuses.push(await put.put(key, new Uint8Array([1]), {}));
    put.close();
    expect(statuses).toEqual([200, 200, 200]);
    expect(seen.map((s) => `${s.connection} ${s.url}`)).toEqual([
      "1 /bkt/a",
      "1 /bkt/b",
      "2 /bkt/b",
      "2 /bkt/c",
    ]);
    expect(connections()).toBe(2);
  });

  it("throws when a fresh connection gets no answer, after one attempt", async () => {
    const { endpoint, seen } = await startServer((_, __, ___, socket) => socket.destroy());
    const put = signedPut(endpoint);
    await expect(put.put("a", new Uint8Array([1]), {})).rejects.toThrow("socket hang up");
    put.close();
    expect(seen).toHaveLength(1);
  });

  it("gives up on a request that is not answered within the request timeout", async () => {
    const { endpoint } = await startServer(() => {});
    const put = signedPut(endpoint, 200);
    await expect(put.put("a", new Uint8Array([1]), {})).rejects.toThrow("no answer within 200 ms");
    put.close();
  });
});
