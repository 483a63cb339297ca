/**
 * gRPC server reflection (grpc.reflection.v1): lets `buf curl`, grpcurl and
 * Postman discover the services and message types this server speaks, including
 * the per-schema services generated from the loaded schema.
 */

import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../generated/grpc/reflection/v1/reflection_pb.js";
import { requireActor } from "./auth.ts";

/** What reflection answers from: the served files (with their dependencies) and service names. */
export interface ReflectionSource {
  readonly files: readonly DescFile[];
  readonly serviceNames: readonly string[];
}

/** gRPC status code NOT_FOUND, as reflection's ErrorResponse uses it. */
const GRPC_NOT_FOUND = 5;
const GRPC_UNIMPLEMENTED = 12;

/** Creates the reflection service implementation. */
export function createReflectionService(
  source: ReflectionSource,
): ServiceImpl<typeof ServerReflection> {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    const name = `${file.name}.proto`;
    if (byName.has(name)) return;
    byName.set(name, file);
    for (const dep of file.dependencies) visit(dep);
    for (const m of file.messages) indexMessage(m, file);
    for (const e of file.enums) bySymbol.set(e.typeName, file);
    for (const s of file.services) {
      bySymbol.set(s.typeName, file);
      for (const method of s.methods) bySymbol.set(`${s.typeName}.${method.name}`, file);
    }
  };
  const indexMessage = (m: DescFile["messages"][number], file: DescFile) => {
    bySymbol.set(m.typeName, file);
    for (const nested of m.nestedMessages) indexMessage(nested, file);
    for (const e of m.nestedEnums) bySymbol.set(e.typeName, file);
  };
  for (const file of source.files) visit(file);

  /** The file and everything it imports, dependencies first, each once. */
  const withDependencies = (file: DescFile): Uint8Array[] => {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const walk = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      for (const dep of f.dependencies) walk(dep);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    };
    walk(file);
    // The requested file goes first, as clients expect.
    return [out[out.length - 1]!, ...out.slice(0, -1)];
  };

  const answer = (req: ServerReflectionRequest): ServerReflectionResponse => {
    const base = { validHost: req.host, originalRequest: req };
    const notFound = (what: string) =>
      create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "errorResponse",
          value: { errorCode: GRPC_NOT_FOUND, errorMessage: `${what} not found` },
        },
      });
    const files = (file: DescFile) =>
      create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "fileDescriptorResponse",
          value: { fileDescriptorProto: withDependencies(file) },
        },
      });
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "listServicesResponse",
            value: { service: source.serviceNames.map((name) => ({ name })) },
          },
        });
      case "fileByFilename": {
        const file = byName.get(r.value);
        return file ? files(file) : notFound(`file '${r.value}'`);
      }
      case "fileContainingSymbol": {
        const file = bySymbol.get(r.value.replace(/^\./, ""));
        return file ? files(file) : notFound(`symbol '${r.value}'`);
      }
      case "allExtensionNumbersOfType":
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value, extensionNumber: [] },
          },
        });
      case "fileContainingExtension":
        return notFound(`extension ${r.value.extensionNumber} of '${r.value.containingType}'`);
      default:
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "errorResponse",
            value: { errorCode: GRPC_UNIMPLEMENTED, errorMessage: "empty reflection request" },
          },
        });
    }
  };

  return {
    async *serverReflectionInfo(requests, ctx: HandlerContext) {
      // What a server serves is for its callers: with authentication configured,
      // reflection needs a valid token like every other call (dev mode lets all in).
      requireActor(ctx.values);
      for await (const req of requests) yield answer(req);
    },
  };
}
