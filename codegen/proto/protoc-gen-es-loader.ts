/**
 * Loads protoc-gen-es for in-process generation, from the module its own `bin` runs
 * (`dist/cjs/src/protoc-gen-es-plugin.js`: the package has no `exports` map, so Node
 * exposes that path), with the framework modules it requires, unchanged. Loaded on first
 * use, so commands that never generate protobuf-es do not pay for it.
 *
 * `requireProtopluginModule` and `requireProtobufModule` reach framework files by path,
 * past the packages' `exports` maps; only `protoplugin-speedups.ts` uses them.
 */

import { createRequire } from "node:module";
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

/** protoc-gen-es, loaded once. */
export function loadProtocGenEs(): ProtocGenEs {
  const { fromPlugin, pluginPath } = resolve();
  return (fromPlugin(pluginPath) as { protocGenEs: ProtocGenEs }).protocGenEs;
}

/**
 * A module of protoplugin's CommonJS build by file name (`names.js`), the instance
 * protoc-gen-es uses; `unknown` because it is not part of the package's API.
 */
export function requireProtopluginModule(file: string): unknown {
  const { fromPlugin, protopluginDir } = resolve();
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
