/**
 * `node tests/bench/bare-h2-survivors.ts [seconds] NAME=FLAGS...`: what each scavenge of a
 * bare `node:http2` server copies, over time, per set of V8 flags. The server answers
 * every request the way the fast paths do (`respond`, then `end` with a 40-byte body);
 * one client in another process sends one request at a time. Prints, per variant, the
 * KB that survived each scavenge (`MC` for a Mark-Compact) with the calls served so far
 * every half second. E.g. `node tests/bench/bare-h2-survivors.ts 6 default=
 * noturbofan=--no-turbofan only-writable-state=--turbo-filter=WritableState`.
 * A measurement, not a test.
 */

import { spawn } from "node:child_process";
import * as http2 from "node:http2";

const [mode = "", arg = "6"] = process.argv.slice(2);

if (mode === "serve") {
  const body = Buffer.alloc(40, 1);
  let calls = 0;
  const server = http2.createServer();
  server.on("stream", (stream) => {
    calls++;
    stream.respond({ ":status": 200, "content-type": "application/proto" });
    stream.end(body);
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    console.log(`PORT ${typeof address === "object" && address ? address.port : 0}`);
  });
  const start = Date.now();
  setInterval(() => console.log(`AT ${Date.now() - start} ${calls}`), 500).unref();
} else if (mode === "client") {
  const end = Date.now() + Number(process.argv[4] ?? "6") * 1000;
  const session = http2.connect(`http://127.0.0.1:${arg}`);
  const one = () => {
    if (Date.now() > end) return session.close();
    const request = session.request({ ":method": "POST", ":path": "/x" });
    request.on("data", () => {});
    request.on("end", one);
    request.end(Buffer.alloc(20));
  };
  one();
} else {
  const seconds = Number(mode || "6");
  const variants = process.argv
    .slice(3)
    .map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] as const);
  for (const [name, flags] of variants.length > 0 ? variants : [["default", ""] as const]) {
    const server = spawn(
      process.execPath,
      [
        "--max-semi-space-size=8",
        "--trace-gc-nvp",
        ...flags.split(/\s+/).filter(Boolean),
        import.meta.filename,
        "serve",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    server.stdout.setEncoding("utf8");
    const port = await new Promise<string>((resolve) =>
      server.stdout.on("data", (chunk: string) => {
        out += chunk;
        const m = /PORT (\d+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      }),
    );
    const client = spawn(
      process.execPath,
      [import.meta.filename, "client", port, String(seconds)],
      {
        stdio: "inherit",
      },
    );
    await new Promise((resolve) => client.once("exit", resolve));
    server.kill("SIGTERM");
    await new Promise((resolve) => server.once("exit", resolve));
    const timeline: string[] = [];
    for (const line of out.split("\n")) {
      const at = /^AT (\d+) (\d+)/.exec(line);
      if (at) timeline.push(`| ${at[1]} ms, ${at[2]} calls |`);
      const gc = / gc=(\w+)/.exec(line)?.[1];
      const survived = Number(/new_space_survived=(\d+)/.exec(line)?.[1] ?? 0);
      if (gc === "mc") timeline.push("MC");
      else if (gc) timeline.push(String(Math.round(survived / 1024)));
    }
    console.log(`${name} (${flags || "no flags"}): ${timeline.join(" ")}`);
  }
}
