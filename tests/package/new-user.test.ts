/**
 * What a new user does, from the packed tarballs, in a folder outside the repository:
 * every command and file of docs/getting-started.md, in order (so the page cannot rot),
 * with only two substitutions: `npm install entdb` / `@entdb/cli` install the tarballs
 * that `npm run pack` built, and the default ports become free ones. Third-party
 * packages (TypeScript, @types/node, esbuild, the runtime's and the server's
 * dependencies) come from the npm registry, through npm's cache when it has them.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = join(import.meta.dirname, "..", "..");
const GUIDE = "docs/getting-started.md";
const DEFAULT_API_PORT = "50051";
const DEFAULT_OPS_PORT = "8080";
const WEB_ORIGIN = "http://localhost:5173";

/** One step of the guide: a shell block to run, or a file to write. */
interface Step {
  readonly section: string;
  readonly kind: "run" | "file";
  readonly code: string;
  /** For a file: where it goes, relative to the current directory. */
  readonly path?: string;
}

/**
 * The guide's code blocks in order. A block right after `<!-- file: PATH -->` is a file;
 * a `sh` block is commands; anything else is refused, so nothing on the page escapes.
 */
function guideSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  let section = "";
  const pattern = /^## (.+)$|(?:<!-- file: (\S+) -->\n)?```(\w*)\n([\s\S]*?)```/gm;
  for (const match of markdown.matchAll(pattern)) {
    const [, heading, path, language, code = ""] = match;
    if (heading !== undefined) {
      section = heading;
    } else if (path !== undefined) {
      steps.push({ section, kind: "file", path, code });
    } else if (language === "sh") {
      steps.push({ section, kind: "run", code });
    } else {
      throw new Error(`${GUIDE}: a \`${language}\` block that is neither a file nor commands`);
    }
  }
  return steps;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** The environment of a user's shell: none of this test runner's npm or vitest variables. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    npm_config_prefer_offline: "true",
    npm_config_fund: "false",
    npm_config_audit: "false",
    npm_config_update_notifier: "false",
    ...extra,
  };
}

interface Server {
  readonly child: ChildProcess;
  readonly output: () => string;
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null || server.child.pid === undefined) {
    return;
  }
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  process.kill(-server.child.pid, "SIGTERM");
  await exited;
}

async function waitReady(server: Server, opsPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      throw new Error(`entdb serve exited with ${server.child.exitCode}:\n${server.output()}`);
    }
    const ready = await fetch(`http://127.0.0.1:${opsPort}/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`entdb serve was not ready in 30 s:\n${server.output()}`);
}

describe(`a new user following ${GUIDE}, from the packed tarballs`, () => {
  const steps = guideSteps(readFileSync(join(repoRoot, GUIDE), "utf8"));
  const work = mkdtempSync(join(tmpdir(), "entdb-new-user-"));
  const cwdFile = join(work, ".cwd");
  let cwd = work;
  let tarballs: { runtime: string; cli: string };
  let apiPort = 0;
  let opsPort = 0;
  let server: Server | undefined;
  /** Output of each `sh` block run so far, by its first line. */
  const outputs = new Map<string, string>();
  const installs: string[] = [];

  const substitute = (code: string): string =>
    code
      .replaceAll(DEFAULT_API_PORT, String(apiPort))
      .replaceAll(DEFAULT_OPS_PORT, String(opsPort));

  /** `npm install` lines name the tarballs instead of the registry's packages. */
  const localInstalls = (code: string): string =>
    code.replace(/^npm install .*$/gm, (line) => {
      const words = line.split(" ").map((word) => {
        if (word === "entdb") return tarballs.runtime;
        if (word === "@entdb/cli") return tarballs.cli;
        return word;
      });
      installs.push(line);
      return words.join(" ");
    });

  async function runSection(section: string): Promise<void> {
    const env = userEnv({ ENTDB_GRPC_PORT: String(apiPort), ENTDB_HTTP_PORT: String(opsPort) });
    // Each app starts in the folder where the guide starts (the browser app's folder is
    // made next to the Node.js app's).
    cwd = work;
    const sectionSteps = steps.filter((step) => step.section === section);
    expect(sectionSteps.length).toBeGreaterThan(0);
    for (const step of sectionSteps) {
      const code = substitute(step.code);
      if (step.kind === "file") {
        const file = join(cwd, step.path ?? "");
        await mkdir(dirname(file), { recursive: true });
        writeFileSync(file, code);
      } else if (/^npx entdb serve /.test(code)) {
        await stopServer(server);
        const child = spawn("bash", ["-c", `exec ${code}`], { cwd, env, detached: true });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
        });
        child.stderr.on("data", (chunk: Buffer) => {
          output += chunk.toString();
        });
        server = { child, output: () => output };
        await waitReady(server, opsPort);
      } else {
        const started = Date.now();
        try {
          const output = execFileSync(
            "bash",
            ["-e", "-c", `${localInstalls(code)}\npwd > "${cwdFile}"`],
            { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
          );
          outputs.set(code.split("\n")[0] ?? "", output);
        } catch (error) {
          const failed = error as { stdout?: string; stderr?: string };
          throw new Error(
            `${GUIDE} (${section}): failed:\n${code}\n${failed.stdout ?? ""}${failed.stderr ?? ""}`,
          );
        }
        cwd = readFileSync(cwdFile, "utf8").trim();
        console.log(`${((Date.now() - started) / 1000).toFixed(1)} s  ${code.split("\n")[0]}`);
      }
    }
  }

  beforeAll(async () => {
    [apiPort, opsPort] = [await freePort(), await freePort()];
    const started = Date.now();
    const printed = execFileSync(process.execPath, [join(repoRoot, "bin/pack-packages.ts")], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    const [runtime, cli] = printed
      .trim()
      .split("\n")
      .map((line) => join(repoRoot, line));
    expect(runtime).toMatch(/entdb-\d+\.\d+\.\d+\.tgz$/);
    expect(cli).toMatch(/entdb-cli-\d+\.\d+\.\d+\.tgz$/);
    tarballs = { runtime: runtime ?? "", cli: cli ?? "" };
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s  npm run pack`);
  }, 180_000);

  afterAll(async () => {
    await stopServer(server);
    rmSync(work, { recursive: true, force: true });
  });

  it("packs compiled JavaScript with declarations, and no sources or tests", () => {
    const list = (tarball: string): string[] =>
      execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n");
    const runtime = list(tarballs.runtime);
    const cli = list(tarballs.cli);
    for (const file of [...runtime, ...cli]) {
      expect(file).toMatch(/^package\/(README\.md|package\.json|.+\.(js|d\.ts|js\.map))$/);
      expect(file).not.toMatch(/\.test\.|\/tests\//);
    }
    expect(runtime).toEqual(
      expect.arrayContaining([
        "package/runtime/v1.js",
        "package/runtime/v1.d.ts",
        "package/runtime/v1.js.map",
        "package/runtime/web.js",
        "package/runtime/node.js",
        "package/generated/entdb/v1/entdb_pb.js",
      ]),
    );
    expect(runtime.filter((file) => /\/(server|schema|codegen|bin)\//.test(file))).toEqual([]);
    expect(cli).toEqual(
      expect.arrayContaining([
        "package/bin/entdb.js",
        "package/bin/entdb-main.js",
        "package/bin/node-version.js",
        "package/server/wal/wal-writer-worker.js",
        "package/codegen/index.d.ts",
      ]),
    );
    expect(cli.filter((file) => file.startsWith("package/runtime/"))).toEqual([]);
    // Source maps carry the TypeScript they map to, named as it sits beside the `.js`.
    const map = JSON.parse(
      readFileSync(join(repoRoot, "dist/packages/entdb/runtime/v1.js.map"), "utf8"),
    ) as { sources: string[]; sourcesContent: string[] };
    expect(map.sources).toEqual(["v1.ts"]);
    expect(map.sourcesContent).toEqual([readFileSync(join(repoRoot, "runtime/v1.ts"), "utf8")]);
  });

  it("runs the Node.js app of the guide against `entdb serve` from the installed package", async () => {
    await runSection("A Node.js app");
    expect(installs).toEqual([
      "npm install entdb",
      "npm install --save-dev @entdb/cli typescript @types/node",
    ]);
    const appRun = [...outputs].find(([first]) => first.endsWith("node dist/main.js"));
    expect(appRun?.[1]).toBe("Try EntDB: done\n");
    // The launcher runs compiled JavaScript and reports the package's own version.
    const version = execFileSync("npx", ["entdb", "--version"], {
      cwd,
      env: userEnv({}),
      encoding: "utf8",
    });
    expect(version.trim()).toBe(
      (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string })
        .version,
    );
    // On a Node.js that is too old (its version faked before the launcher runs), the
    // installed launcher says what to do, before loading anything else.
    const tooOld = spawnSync(
      process.execPath,
      [
        "--import",
        'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.19.0"})',
        join(cwd, "node_modules", "@entdb", "cli", "bin", "entdb.js"),
        "--version",
      ],
      { cwd, env: userEnv({}), encoding: "utf8" },
    );
    expect([tooOld.status, tooOld.stdout, tooOld.stderr]).toEqual([
      1,
      "",
      "entdb: this is Node.js 20.19.0, and entdb needs Node.js 22.18.0 or newer (Node 24 LTS is tested). Install a newer Node.js and run the command again.\n",
    ]);
    // The programmatic entry points resolve through the exports map, compiled.
    const script = [
      'const { compileSchema } = await import("@entdb/cli/schema");',
      'const { generateEs } = await import("@entdb/cli/codegen");',
      'const { readFileSync } = await import("node:fs");',
      'const result = compileSchema({ path: "schema.entdb", text: readFileSync("schema.entdb", "utf8") });',
      "console.log(result.diagnostics.length, typeof generateEs);",
    ].join("\n");
    const programmatic = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd,
      env: userEnv({}),
      encoding: "utf8",
    });
    expect(programmatic).toBe("0 function\n");
  }, 240_000);

  it("bundles the browser app of the guide with no Node.js module, and serves it with CORS", async () => {
    await runSection("A browser app");
    // What the app ships: the runtime and its four dependencies, not the server's.
    const production = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], {
      cwd,
      env: userEnv({}),
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .slice(1)
      .map((path) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length))
      .sort();
    expect(production).toEqual([
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-node",
      "@connectrpc/connect-web",
      "entdb",
    ]);

    const bundlePath = join(cwd, "public", "app.js");
    const bundle = readFileSync(bundlePath, "utf8");
    expect(bundle).not.toMatch(/\bfrom\s*"node:|\brequire\(|\bimport\(\s*"node:/);
    console.log(`browser bundle: ${statSync(bundlePath).size} bytes (public/app.js, minified)`);

    // The same build through esbuild's API, to see which modules went in.
    interface Esbuild {
      build(options: object): Promise<{ readonly metafile: { readonly inputs: object } }>;
    }
    const esbuild = (await import(
      pathToFileURL(join(cwd, "node_modules", "esbuild", "lib", "main.js")).href
    )) as Esbuild;
    const result = await esbuild.build({
      absWorkingDir: cwd,
      entryPoints: ["src/main.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toEqual(
      expect.arrayContaining([
        "src/generated/client.ts",
        "node_modules/entdb/runtime/v1.js",
        "node_modules/entdb/runtime/web.js",
        "node_modules/@connectrpc/connect-web/dist/esm/index.js",
      ]),
    );
    expect(inputs.filter((input) => /connect-node|^node:|@entdb\/cli/.test(input))).toEqual([]);

    // The server the guide starts lets the page's origin call, and only that origin.
    const preflight = (origin: string) =>
      fetch(`http://127.0.0.1:${apiPort}/acme.todo.TaskService/Query`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,connect-protocol-version",
        },
      });
    const allowed = await preflight(WEB_ORIGIN);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(WEB_ORIGIN);
    const other = await preflight("http://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  }, 240_000);
});
