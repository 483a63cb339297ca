/**
 * A static server for the browser test's page: `/` is a small HTML page that loads
 * `/page.js`, the esbuild bundle of `page.ts`. Each server listens on its own loopback
 * port, so each is its own origin and calls from its page to `entdb serve` are
 * cross-origin: CORS applies as it does for a deployed app.
 */

import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { build } from "esbuild";

const HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>EntDB from a browser</title></head>
<body>
<h1>EntDB from a browser</h1>
<pre id="outcome">running…</pre>
<script type="module" src="/page.js"></script>
</body>
</html>
`;

/** Bundles `page.ts` (and what it imports: the runtime, the generated tracker code) for browsers. */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "page.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2023",
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error("esbuild wrote no bundle for page.ts");
  return file.text;
}

/** A running page server. */
export interface PageServer {
  /** E.g. `http://127.0.0.1:40123`: what the browser sends as `Origin`. */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves the page and `script` (the bundle) on a free loopback port. */
export async function startPageServer(script: string): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(HTML);
    } else if (req.method === "GET" && path === "/page.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(script);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no ${path} here\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port to serve on");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
