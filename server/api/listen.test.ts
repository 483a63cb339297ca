import * as http from "node:http";
import * as http2 from "node:http2";
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
});
