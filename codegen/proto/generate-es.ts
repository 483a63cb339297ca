/**
 * protobuf-es code (`*_pb.js` + `*_pb.d.ts`) for the schema's `.proto` files, produced by
 * running the protoc-gen-es plugin in-process on a CodeGeneratorRequest we build
 * ourselves: no protoc binary and no child process.
 *
 * JavaScript with declarations rather than TypeScript, as for the server's own API protos
 * (`buf.gen.yaml`): the `.js` runs in Node and in bundlers without a TypeScript transform,
 * and a consumer's tsc reads the types from the `.d.ts` instead of checking one
 * `GenMessage<…>` initializer per type (on a 500-type schema that check was nearly all of
 * the compile time; with `skipLibCheck` the declarations are not checked at all).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type {
  CodeGeneratorRequest,
  CodeGeneratorResponse,
  FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import {
  CodeGeneratorRequestSchema,
  CodeGeneratorResponseSchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { CodegenError } from "../codegen-error.ts";
import type { GeneratedFile } from "../writer/generated-file.ts";
import { createGeneratedFile } from "../writer/generated-file.ts";
import { type EsFileOutput, type EsOutputCache, esCacheKey } from "./es-output-cache.ts";
import { esPluginThreads, startEsRun } from "./es-plugin-threads.ts";
import { loadProtocGenEs, type ProtocGenEs } from "./protoc-gen-es-loader.ts";
import { trimEsDeclarations, trimEsJavaScript } from "./trim-es-output.ts";

/** Options of `generateEs`. */
export interface GenerateEsOptions {
  /**
   * The extension of relative imports between generated files: `js` (the default), which
   * Node's ESM loader and `moduleResolution: nodenext` need, or `none` for bundlers.
   */
  readonly importExtension?: "js" | "none";
  /** Also generate the `…Json` types of the JSON form of each message. */
  readonly jsonTypes?: boolean;
  /**
   * Plugin output kept from earlier runs: files whose inputs it holds are not given to
   * the plugin again, and what the plugin prints is stored in it (see
   * `es-output-cache.ts`). The result is the same with or without it.
   */
  readonly cache?: EsOutputCache;
  /**
   * How many worker threads run the plugin beside this thread, each on its share of the
   * files (see `es-plugin-threads.ts`); default: one per spare core when there are
   * enough files to pay for loading the plugin again. The output is the same.
   */
  readonly threads?: number;
}

/** Descriptors a generated `.proto` may import besides its siblings: well-known types only. */
const IMPORTABLE: ReadonlyMap<string, FileDescriptorProto> = new Map(
  [file_google_protobuf_struct, file_google_protobuf_timestamp].map((f) => [f.proto.name, f.proto]),
);

let plugin: ProtocGenEs | undefined;

/** The protoc-gen-es parameter string for `options`. */
export function esPluginParameter(options: GenerateEsOptions = {}): string {
  const params = [
    "target=js+dts",
    `import_extension=${options.importExtension ?? "js"}`,
    // Enums as plain const objects with a union type (not `declare enum`), the same shape
    // the `.ts` target gave under `erasableSyntaxOnly`, so code using them is unchanged.
    "erasable_syntax=true",
  ];
  if (options.jsonTypes === true) params.push("json_types=true");
  return params.join(",");
}

/**
 * Runs protoc-gen-es on `descriptors` (each after the files it imports, as
 * `buildFileDescriptors` returns them) and returns its files, the `_pb.js` of each
 * descriptor in order (`acme/tracker/schema_pb.js`, `acme/tracker/task_pb.js`, …) then the
 * `_pb.d.ts` of each, paths relative to the out dir, without the entdb header (the writer
 * adds it), their JSDoc trimmed (see `trim-es-output.ts`). Throws a `CodegenError`
 * (`generator-failed`) if a file imports anything but the files before it and well-known
 * types, or if the plugin rejects a descriptor.
 */
export function generateEs(
  descriptors: readonly FileDescriptorProto[],
  options: GenerateEsOptions = {},
): GeneratedFile[] {
  const names = descriptors.map((d) => d.name);
  const given = new Set<string>();
  const dependencies = new Map<string, FileDescriptorProto>();
  for (const descriptor of descriptors) {
    for (const name of descriptor.dependency) {
      if (given.has(name)) continue;
      const dep = IMPORTABLE.get(name);
      if (dep === undefined) {
        throw new CodegenError(
          "generator-failed",
          `Cannot generate TypeScript for '${descriptor.name}': it imports '${name}', which is neither a well-known type nor a file generated before it.`,
        );
      }
      dependencies.set(name, dep);
    }
    given.add(descriptor.name);
  }
  const parameter = esPluginParameter(options);
  const outputs = new Map<string, EsFileOutput>();
  const keys = new Map<string, string>();
  const { cache } = options;
  if (cache !== undefined) {
    const byName = new Map([...dependencies, ...descriptors.map((d) => [d.name, d] as const)]);
    const binaries = new Map<FileDescriptorProto, Uint8Array>();
    const binary = (file: FileDescriptorProto): Uint8Array => {
      let bytes = binaries.get(file);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, file);
        binaries.set(file, bytes);
      }
      return bytes;
    };
    for (const descriptor of descriptors) {
      const key = esCacheKey(descriptor, parameter, byName, binary);
      keys.set(descriptor.name, key);
      const hit = cache.get(key);
      if (hit !== undefined) outputs.set(descriptor.name, hit);
    }
  }
  const missing = descriptors.filter((d) => !outputs.has(d.name));
  if (missing.length > 0) {
    const threads = options.threads ?? esPluginThreads(missing.length);
    const shares = split(missing, threads + 1);
    const pending = shares.slice(1).map((share) => {
      const request = pluginRequest(dependencies, descriptors, share, parameter);
      return {
        share,
        run: startEsRun(toBinary(CodeGeneratorRequestSchema, request)),
      };
    });
    const printed = runPlugin(dependencies, descriptors, shares[0] ?? [], parameter);
    for (const { share, run } of pending) {
      let response: CodeGeneratorResponse;
      try {
        response = fromBinary(CodeGeneratorResponseSchema, run.wait());
      } catch (cause) {
        throw pluginFailed(share, cause);
      }
      for (const [name, output] of pluginOutputs(share, response)) printed.set(name, output);
    }
    for (const descriptor of missing) {
      const output = printed.get(descriptor.name);
      if (output === undefined) {
        throw new CodegenError(
          "generator-failed",
          `protoc-gen-es printed no '${esOutputBase(descriptor.name)}_pb.js' and '_pb.d.ts' for '${descriptor.name}'.`,
        );
      }
      outputs.set(descriptor.name, output);
      const key = keys.get(descriptor.name);
      if (cache !== undefined && key !== undefined) cache.set(key, output);
    }
  }
  // The plugin's own order: every `_pb.js`, then every `_pb.d.ts`, each in request order.
  const files: GeneratedFile[] = [];
  for (const ext of ["js", "dts"] as const) {
    for (const name of names) {
      const output = outputs.get(name);
      if (output === undefined) continue;
      const path = `${esOutputBase(name)}_pb.${ext === "js" ? "js" : "d.ts"}`;
      files.push(createGeneratedFile(path, trimEsOutput(path, output[ext])));
    }
  }
  return files;
}

/** `acme/tracker/task` for `acme/tracker/task.proto`: what the plugin names outputs after. */
function esOutputBase(protoName: string): string {
  return protoName.endsWith(".proto") ? protoName.slice(0, -".proto".length) : protoName;
}

/** `items` in `parts` runs of near-equal length, in order; no empty run. */
function split<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / Math.max(1, parts));
  const runs: T[][] = [];
  for (let at = 0; at < items.length; at += size) runs.push(items.slice(at, at + size));
  return runs;
}

/**
 * The request for `toGenerate` (a subset of `descriptors`): those files, with the files
 * and well-known `dependencies` they import, transitively; the plugin indexes every
 * file it is given, so it is given no others.
 */
function pluginRequest(
  dependencies: ReadonlyMap<string, FileDescriptorProto>,
  descriptors: readonly FileDescriptorProto[],
  toGenerate: readonly FileDescriptorProto[],
  parameter: string,
): CodeGeneratorRequest {
  const names = toGenerate.map((d) => d.name);
  const needed = new Set(names);
  // Each file comes after the files it imports, so one backward pass closes the set.
  for (let i = descriptors.length - 1; i >= 0; i--) {
    const descriptor = descriptors[i];
    if (descriptor !== undefined && needed.has(descriptor.name)) {
      for (const name of descriptor.dependency) needed.add(name);
    }
  }
  return create(CodeGeneratorRequestSchema, {
    fileToGenerate: names,
    parameter,
    protoFile: [
      ...[...dependencies.values()].filter((d) => needed.has(d.name)),
      ...descriptors.filter((d) => needed.has(d.name)),
    ],
    sourceFileDescriptors: [...toGenerate],
  });
}

/**
 * Runs protoc-gen-es on `toGenerate` in this thread and returns its raw output by
 * `.proto` name. Throws a `CodegenError` (`generator-failed`) if the plugin fails.
 */
function runPlugin(
  dependencies: ReadonlyMap<string, FileDescriptorProto>,
  descriptors: readonly FileDescriptorProto[],
  toGenerate: readonly FileDescriptorProto[],
  parameter: string,
): Map<string, EsFileOutput> {
  if (toGenerate.length === 0) return new Map();
  const request = pluginRequest(dependencies, descriptors, toGenerate, parameter);
  plugin ??= loadProtocGenEs();
  let response: CodeGeneratorResponse;
  try {
    response = plugin.run(request);
  } catch (cause) {
    throw pluginFailed(toGenerate, cause);
  }
  return pluginOutputs(toGenerate, response);
}

/** The `_pb.js` and `_pb.d.ts` text of each of `files` in `response`, by `.proto` name. */
function pluginOutputs(
  files: readonly FileDescriptorProto[],
  response: CodeGeneratorResponse,
): Map<string, EsFileOutput> {
  if (response.error !== undefined && response.error !== "") {
    throw pluginFailed(files, response.error);
  }
  const printed = new Map(response.file.map((f) => [f.name, f.content]));
  const outputs = new Map<string, EsFileOutput>();
  for (const { name } of files) {
    const base = esOutputBase(name);
    const js = printed.get(`${base}_pb.js`);
    const dts = printed.get(`${base}_pb.d.ts`);
    if (js !== undefined && dts !== undefined) outputs.set(name, { js, dts });
  }
  return outputs;
}

/** The `generator-failed` error for the plugin failing on `files` with `cause`. */
function pluginFailed(files: readonly FileDescriptorProto[], cause: unknown): CodegenError {
  const what = files.length === 1 ? `'${files[0]?.name}'` : `${files.length} files`;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CodegenError("generator-failed", `protoc-gen-es failed on ${what}: ${message}`, {
    cause,
  });
}

/** A plugin file with its JSDoc trimmed (see `trim-es-output.ts`). */
function trimEsOutput(path: string, content: string): string {
  if (path.endsWith(".d.ts")) return trimEsDeclarations(content);
  if (path.endsWith(".js")) return trimEsJavaScript(content);
  return content;
}
