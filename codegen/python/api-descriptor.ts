/**
 * The `entdb.v1` API descriptors embedded in the Python runtime
 * (`runtime/python/src/entdb_runtime/_api_descriptor.py`): the same descriptors the
 * TypeScript runtime is built from, as one serialized `FileDescriptorSet`, so the Python
 * runtime builds its message classes at import time without protoc or generated `_pb2`
 * modules. `npm run generate:api` writes it (`bin/generate-python-api.ts`); a test in
 * `tests/codegen/generate-python.test.ts` fails on a diff.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_entdb_v1_entdb } from "../../generated/entdb/v1/entdb_pb.js";
import { file_entdb_v1_plan } from "../../generated/entdb/v1/plan_pb.js";
import { file_entdb_v1_values } from "../../generated/entdb/v1/values_pb.js";
import { pyBase64 } from "./python-literals.ts";

/** Where the module sits in the repository. */
export const API_DESCRIPTOR_PATH = "runtime/python/src/entdb_runtime/_api_descriptor.py";

/** The module's source, header included (the writer's header, `#` style). */
export function apiDescriptorModule(headerText: string): string {
  // Dependencies first, as a descriptor pool needs them; timestamp.proto is in every pool.
  const set = create(FileDescriptorSetSchema, {
    file: [file_entdb_v1_values.proto, file_entdb_v1_plan.proto, file_entdb_v1_entdb.proto].map(
      (proto) => ({ ...proto, sourceCodeInfo: undefined }),
    ),
  });
  return `# ${headerText}
"""The entdb.v1 API descriptors (values, plan, entdb), a serialized FileDescriptorSet."""

import base64

FILE_DESCRIPTOR_SET: bytes = base64.b64decode(
    ${pyBase64(toBinary(FileDescriptorSetSchema, set), "    ").trimStart()}
)
`;
}
