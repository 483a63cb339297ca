/**
 * `npm run pack`: builds the two published packages from this one repository and packs
 * each with `npm pack` into `dist/`.
 *
 * - `entdb`: the runtime that applications and generated clients import
 *   (`entdb/runtime/v1`, `entdb/runtime/web`, `entdb/runtime/node`). Browser-safe, with
 *   only the protobuf and Connect packages as dependencies.
 * - `@entdb/cli`: the `entdb` binary (schema tools, codegen, the server) with the
 *   server's dependencies, and `@entdb/cli/schema` and `@entdb/cli/codegen` for programs.
 *
 * Development never needs this step: tests and `npm start` run the `.ts` sources. Here
 * `tsc -p tsconfig.build.json` compiles them to JavaScript with declarations and source
 * maps; `generated/` already holds `.js` + `.d.ts` and is copied. Each package's
 * dependencies are the root package.json's, picked by what its compiled code imports,
 * so a missing one fails the pack instead of an install.
 *
 * Usage: `node bin/pack-packages.ts [--no-pack]` (`--no-pack` stops after assembling
 * `dist/packages/*`). Prints the tarball paths, one a line.
 */

import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");
const compiled = join(dist, "tsc");

interface RootManifest {
  readonly version: string;
  readonly description: string;
  readonly license: string;
  readonly engines: Readonly<Record<string, string>>;
  readonly dependencies: Readonly<Record<string, string>>;
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as RootManifest;

/** A package this script assembles. */
interface PackageSpec {
  /** Folder name under `dist/packages/`. */
  readonly folder: string;
  readonly name: string;
  readonly description: string;
  /** Folders (repo-relative) copied from the compiled output. */
  readonly compiledFolders: readonly string[];
  /** Folders (repo-relative) copied from the repository as they are (`.js` + `.d.ts`). */
  readonly sourceFolders: readonly string[];
  /** Subpath → module (without extension) for the `exports` map. */
  readonly exports: Readonly<Record<string, string>>;
  /** Packages loaded by a computed specifier, which no import statement shows. */
  readonly resolvedAtRunTime: readonly string[];
  readonly extra: Readonly<Record<string, unknown>>;
  readonly readme: string;
}

const runtimePackage: PackageSpec = {
  folder: "entdb",
  name: "entdb",
  description:
    "EntDB's client runtime: what generated clients import, with Node.js and browser transports.",
  compiledFolders: ["runtime"],
  sourceFolders: ["generated/entdb/v1", "generated/entdbcluster/v1"],
  exports: {
    "./runtime/v1": "./runtime/v1",
    "./runtime/web": "./runtime/web",
    "./runtime/node": "./runtime/node",
  },
  // `@connectrpc/connect-node` is a plain dependency, not an optional peer: it has no
  // dependencies of its own, only `runtime/node` imports it, so a bundle for the browser
  // never contains it, and a Node.js app gets a working transport without a second
  // install step.
  resolvedAtRunTime: [],
  extra: { sideEffects: false },
  readme: [
    "# entdb",
    "",
    "The client runtime of [EntDB](https://github.com/entdb/entdb): the typed clients that",
    "`entdb generate` writes import `entdb/runtime/v1`; applications pick a transport from",
    "`entdb/runtime/node` (Node.js) or `entdb/runtime/web` (browsers, any `fetch`).",
    "Nothing reachable from `entdb/runtime/v1` or `entdb/runtime/web` imports a Node.js",
    "built-in.",
    "",
    "The `entdb` command (schema tools, code generation, the server) is in `@entdb/cli`:",
    "",
    "```sh",
    "npm install entdb",
    "npm install --save-dev @entdb/cli",
    "```",
    "",
    "See docs/getting-started.md in the repository.",
    "",
  ].join("\n"),
};

const cliPackage: PackageSpec = {
  folder: "cli",
  name: "@entdb/cli",
  description: manifest.description,
  compiledFolders: ["bin", "schema", "codegen", "server"],
  sourceFolders: ["generated"],
  exports: { "./schema": "./schema/index", "./codegen": "./codegen/index" },
  resolvedAtRunTime: [],
  extra: {
    bin: { entdb: "./bin/entdb.js" },
    // Exact: `entdb generate` writes code for this runtime, so the app's `entdb` must be
    // this very version. A peer, so that there is one copy, the app's own, and a
    // mismatch is an install error rather than a second, silently unused copy.
    peerDependencies: { entdb: manifest.version },
  },
  readme: [
    "# @entdb/cli",
    "",
    "The `entdb` command of [EntDB](https://github.com/entdb/entdb): `entdb check`, `lock`,",
    "`fmt`, `generate` (typed client, `.proto`, SQL indexes) and `serve` (the database).",
    "Install it as a development dependency beside the runtime, `entdb`, at the same version:",
    "",
    "```sh",
    "npm install entdb",
    "npm install --save-dev @entdb/cli",
    "npx entdb --help",
    "```",
    "",
    "See docs/getting-started.md in the repository.",
    "",
  ].join("\n"),
};

/** Every file under `dir`, recursively, as absolute paths. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

function compile(): void {
  rmSync(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
    stdio: "inherit",
  });
  for (const file of walk(compiled)) {
    if (file.endsWith(".d.ts")) {
      // tsc rewrites `.ts` specifiers in the JavaScript it emits but not in declarations;
      // a consumer's compiler must find the `.d.ts` beside each `.js`.
      const text = readFileSync(file, "utf8");
      const fixed = text.replace(/((?:from|import\()\s*"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"');
      if (fixed !== text) writeFileSync(file, fixed);
    } else if (file.endsWith(".js.map")) {
      // The maps carry their sources (`inlineSources`); name each source as if it sat
      // beside its `.js`, as it did in the repository, instead of by a path from
      // `dist/tsc` back into the repository, which means nothing inside a package.
      const map = JSON.parse(readFileSync(file, "utf8")) as { sources: string[] };
      map.sources = map.sources.map((source) => basename(source));
      writeFileSync(file, JSON.stringify(map));
    }
  }
}

/**
 * The launcher (`bin/entdb.js`, plain JavaScript that checks the Node.js version) must
 * import compiled JavaScript: the compiled `bin/entdb.ts` is renamed `entdb-main.js`,
 * which frees `entdb.js` for the launcher.
 */
function installLauncher(binDir: string): void {
  renameSync(join(binDir, "entdb.js"), join(binDir, "entdb-main.js"));
  const map = JSON.parse(readFileSync(join(binDir, "entdb.js.map"), "utf8")) as { file: string };
  map.file = "entdb-main.js";
  writeFileSync(join(binDir, "entdb-main.js.map"), JSON.stringify(map));
  rmSync(join(binDir, "entdb.js.map"));
  rmSync(join(binDir, "entdb.d.ts"), { force: true });
  const main = readFileSync(join(binDir, "entdb-main.js"), "utf8");
  writeFileSync(
    join(binDir, "entdb-main.js"),
    main.replace("//# sourceMappingURL=entdb.js.map", "//# sourceMappingURL=entdb-main.js.map"),
  );
  const launcher = readFileSync(join(root, "bin/entdb.js"), "utf8");
  const published = launcher.replace(
    'await import("./entdb.ts");',
    'await import("./entdb-main.js");',
  );
  if (published === launcher) throw new Error("bin/entdb.js no longer imports ./entdb.ts");
  writeFileSync(join(binDir, "entdb.js"), published, { mode: 0o755 });
  for (const file of ["node-version.js", "node-version.d.ts"]) {
    cpSync(join(root, "bin", file), join(binDir, file));
  }
}

/** The package names that the JavaScript files of `dir` import, Node built-ins apart. */
function importedPackages(dir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const specifier =
    /(?:^|[\s;])(?:import|export)\s[^"]*?from\s*"([^"]+)"|import\(\s*"([^"]+)"\)|^import\s*"([^"]+)"/gm;
  for (const file of walk(dir)) {
    if (!file.endsWith(".js")) continue;
    for (const match of readFileSync(file, "utf8").matchAll(specifier)) {
      const spec = match[1] ?? match[2] ?? match[3] ?? "";
      if (spec.startsWith(".")) continue;
      const name = spec.startsWith("node:")
        ? spec
        : spec
            .split("/")
            .slice(0, spec.startsWith("@") ? 2 : 1)
            .join("/");
      found.set(name, [...(found.get(name) ?? []), relative(dir, file)]);
    }
  }
  return found;
}

/** `file: spec` for every relative import in `dir`'s JavaScript that names no file there. */
function relativeImportsOutside(dir: string): string[] {
  // Imports, and the files of worker threads (`new URL("./x.js", import.meta.url)`, which
  // tsc does not follow: their sources must be in tsconfig.build.json's `files`).
  const specifier = /(?:from\s*|import\(\s*)"(\.[^"]+)"|"(\.[^"]+\.js)",\s*import\.meta\.url/g;
  const out: string[] = [];
  for (const file of walk(dir)) {
    if (!file.endsWith(".js")) continue;
    for (const match of readFileSync(file, "utf8").matchAll(specifier)) {
      const spec = match[1] ?? match[2] ?? "";
      const target = join(dirname(file), spec);
      // The package's own package.json is written after this check.
      if (target === join(dir, "package.json") || existsSync(target)) continue;
      out.push(`${relative(dir, file)}: ${spec}`);
    }
  }
  return out;
}

function isBuiltin(name: string): boolean {
  return name.startsWith("node:") || builtinModules.includes(name);
}

function assemble(spec: PackageSpec): string {
  const out = join(dist, "packages", spec.folder);
  mkdirSync(out, { recursive: true });
  for (const folder of spec.compiledFolders) {
    cpSync(join(compiled, folder), join(out, folder), { recursive: true });
  }
  for (const folder of spec.sourceFolders) {
    cpSync(join(root, folder), join(out, folder), {
      recursive: true,
      filter: (path) => !/\.(ts|proto)$/.test(path) || path.endsWith(".d.ts"),
    });
  }
  if (spec.compiledFolders.includes("bin")) installLauncher(join(out, "bin"));

  const outside = relativeImportsOutside(out);
  if (outside.length > 0) {
    throw new Error(
      `${spec.name}: relative imports of files the package does not hold: ${outside.join(", ")}`,
    );
  }
  const imported = importedPackages(out);
  const peers = (spec.extra["peerDependencies"] ?? {}) as Record<string, string>;
  const dependencies: Record<string, string> = {};
  for (const name of [...imported.keys(), ...spec.resolvedAtRunTime].sort()) {
    if (isBuiltin(name) || name in peers) continue;
    const range = manifest.dependencies[name];
    if (range === undefined) {
      const where = (imported.get(name) ?? []).join(", ");
      throw new Error(`${spec.name}: ${where} imports ${name}, not in package.json dependencies`);
    }
    dependencies[name] = range;
  }
  if (spec === runtimePackage) {
    const builtinUsers = [...imported]
      .filter(([name]) => isBuiltin(name))
      .flatMap(([, files]) => files)
      .filter((file) => file !== join("runtime", "node.js"));
    if (builtinUsers.length > 0) {
      throw new Error(
        `entdb must be browser-safe, but ${builtinUsers.join(", ")} import Node built-ins`,
      );
    }
  }

  const exports: Record<string, unknown> = {};
  for (const [subpath, module] of Object.entries(spec.exports)) {
    exports[subpath] = { types: `${module}.d.ts`, default: `${module}.js` };
  }
  exports["./package.json"] = "./package.json";
  const packageJson = {
    name: spec.name,
    version: manifest.version,
    description: spec.description,
    type: "module",
    license: manifest.license,
    engines: manifest.engines,
    ...spec.extra,
    exports,
    files: [
      ...new Set([...spec.compiledFolders, ...spec.sourceFolders.map((f) => f.split("/")[0])]),
    ],
    dependencies,
  };
  writeFileSync(join(out, "package.json"), `${JSON.stringify(packageJson, null, 2)}\n`);
  writeFileSync(join(out, "README.md"), spec.readme);
  return out;
}

function pack(folder: string): string {
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", dist], {
    cwd: folder,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [result] = JSON.parse(output) as { filename: string }[];
  if (result === undefined) throw new Error(`npm pack printed no result in ${folder}`);
  return join(dist, result.filename);
}

compile();
const folders = [assemble(runtimePackage), assemble(cliPackage)];
if (!process.argv.includes("--no-pack")) {
  for (const folder of folders) {
    const tarball = pack(folder);
    if (!existsSync(tarball)) throw new Error(`npm pack wrote no ${tarball}`);
    process.stdout.write(`${relative(process.cwd(), tarball) || tarball}\n`);
  }
}
