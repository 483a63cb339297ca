/**
 * Loads protoc-gen-es and the framework modules it runs on (their CommonJS build, the
 * only one protoc-gen-es has), for in-process generation.
 *
 * Without the TypeScript compiler: protoplugin's `create-es-plugin.js` requires
 * `transpile.js`, which requires `typescript` (a third of a second to load, a good part
 * of `entdb generate`'s start-up) for plugins that generate only TypeScript and let the
 * framework transpile it. protoc-gen-es has its own JavaScript and declaration
 * generators, so with our `target=js+dts` the framework never transpiles; `transpile.js`
 * is put in the CommonJS module cache as a stub (that says so if it is ever called)
 * before the plugin loads. When the framework is already loaded (another part of the
 * process required it first), the real module stays.
 */

import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";
import type { protocGenEs } from "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js";

/** The protoc-gen-es plugin object (its `run` takes a CodeGeneratorRequest). */
export type ProtocGenEs = typeof protocGenEs;

const PLUGIN = "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js";

interface Resolved {
  readonly fromPlugin: NodeJS.Require;
  readonly pluginPath: string;
  /** protoplugin's `dist/cjs` directory. */
  readonly protopluginDir: string;
  /** `@bufbuild/protobuf`'s `dist/cjs` directory. */
  readonly protobufDir: string;
}

let resolved: Resolved | undefined;

function resolve(): Resolved {
  if (resolved !== undefined) return resolved;
  const pluginPath = createRequire(import.meta.url).resolve(PLUGIN);
  const fromPlugin = createRequire(pluginPath);
  resolved = {
    fromPlugin,
    pluginPath,
    protopluginDir: dirname(fromPlugin.resolve("@bufbuild/protoplugin")),
    protobufDir: dirname(fromPlugin.resolve("@bufbuild/protobuf")),
  };
  return resolved;
}

/** protoc-gen-es, loaded once (see above). */
export function loadProtocGenEs(): ProtocGenEs {
  const { fromPlugin, pluginPath, protopluginDir } = resolve();
  stubTranspile(fromPlugin, join(protopluginDir, "transpile.js"));
  return (fromPlugin(pluginPath) as { protocGenEs: ProtocGenEs }).protocGenEs;
}

/**
 * A module of protoplugin's CommonJS build by file name (`names.js`), the instance
 * protoc-gen-es uses; `unknown` because it is not part of the package's API.
 */
export function requireProtopluginModule(file: string): unknown {
  const { fromPlugin, protopluginDir } = resolve();
  stubTranspile(fromPlugin, join(protopluginDir, "transpile.js"));
  return fromPlugin(join(protopluginDir, file));
}

/**
 * A module of `@bufbuild/protobuf`'s CommonJS build by path below `dist/cjs`
 * (`codegenv2/embed.js`), the instance protoc-gen-es uses. By path: the package's
 * exports map hides the file.
 */
export function requireProtobufModule(file: string): unknown {
  const { fromPlugin, protobufDir } = resolve();
  return fromPlugin(join(protobufDir, file));
}

/** Puts the stub for protoplugin's `transpile.js` in the module cache, unless it is loaded. */
function stubTranspile(fromPlugin: NodeJS.Require, path: string): void {
  if (fromPlugin.cache[path] !== undefined) return;
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = {
    transpile(): never {
      throw new Error(
        "protoplugin's TypeScript transpiler is not loaded in entdb: generate with protoc-gen-es's own js and dts generators (target=js+dts).",
      );
    },
  };
  fromPlugin.cache[path] = stub;
}
