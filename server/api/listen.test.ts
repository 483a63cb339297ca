import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiListener, listenApi } from "./listen.ts";

describe("listenApi", () => {
  let listener: ApiListener;
  beforeAll(async () => {
    listener = await listenApi(
      (req, res) => {
        res.setHeader("content-type", "text/plain");
        res.end(`${req.httpVersion} ${req.method} ${req.url}`);
      },
      { host: "127.0.0.1", port: 0 },
    );
  });
  afterAll(() => listener.close(1_000));

  it("serves HTTP/1.1 on the port", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: listener.port, path: "/one" }, (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    expect(body).toBe("1.1 GET /one");
  });

  it("serves cleartext HTTP/2 (prior knowledge) on the same port", async () => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/two", ":method": "POST" });
        let text = "";
        stream.on("data", (c) => {
          text += c;
        });
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
        stream.end("x");
      });
      expect(body).toBe("2.0 POST /two");
    } finally {
      session.close();
    }
  });

  it("routes an HTTP/1.1 request that starts like the preface ('P…') to HTTP/1.1", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: listener.port, path: "/three", method: "POST" },
        (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
      req.end("body");
    });
    expect(body).toBe("1.1 POST /three");
  });

  it("serves HTTP/2 when the preface arrives split across TCP segments", async () => {
    // The client talks through a relay that splits its first write (the preface and its
    // SETTINGS) in two, 50 ms apart, so the sniffer must wait for the rest to decide.
    const socket = net.connect({ host: "127.0.0.1", port: listener.port, noDelay: true });
    let first = true;
    const relay = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (!first) return socket.write(chunk, () => callback());
        first = false;
        socket.write(chunk.subarray(0, 7));
        setTimeout(() => socket.write(chunk.subarray(7), () => callback()), 50);
      },
    });
    socket.on("data", (chunk) => relay.push(chunk));
    socket.on("end", () => relay.push(null));
    const session = http2.connect(`http://127.0.0.1:${listener.port}`, {
      createConnection: () => relay,
    });
    try {
      for (const path of ["/four", "/five"]) {
        const body = await new Promise<string>((resolve, reject) => {
          const stream = session.request({ ":path": path });
          let text = "";
          stream.on("data", (c) => {
            text += c;
          });
          stream.on("end", () => resolve(text));
          stream.on("error", reject);
        });
        expect(body).toBe(`2.0 GET ${path}`);
      }
      expect(first, "the preface went through the split write").toBe(false);
    } finally {
      session.close();
      socket.destroy();
    }
  });
});
