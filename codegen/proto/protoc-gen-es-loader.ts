/**
 * Loads protoc-gen-es for in-process generation, from the module its own `bin` runs
 * (`dist/cjs/src/protoc-gen-es-plugin.js`: the package has no `exports` map, so Node
 * exposes that path), with the framework modules it requires, unchanged. Loaded on first
 * use, so commands that never generate protobuf-es do not pay for it.
 */

import { createRequire } from "node:module";
import type { protocGenEs } from "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js";

/** The protoc-gen-es plugin object (its `run` takes a CodeGeneratorRequest). */
export type ProtocGenEs = typeof protocGenEs;

const PLUGIN = "@bufbuild/protoc-gen-es/dist/cjs/src/protoc-gen-es-plugin.js";

/** protoc-gen-es, loaded once. */
export function loadProtocGenEs(): ProtocGenEs {
  const require = createRequire(import.meta.url);
  return (require(require.resolve(PLUGIN)) as { protocGenEs: ProtocGenEs }).protocGenEs;
}
