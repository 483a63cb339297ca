/**
 * Writes the `entdb.v1` API descriptors the Python runtime embeds
 * (`runtime/python/src/entdb_runtime/_api_descriptor.py`) from the generated protobuf-es
 * code. Run by `npm run generate:api` after `buf generate`; the Python generator's tests fail
 * when the checked-in module differs.
 */

import { join, resolve } from "node:path";
import { API_DESCRIPTOR_PATH, apiDescriptorModule } from "../codegen/python/index.ts";
import { headerText } from "../codegen/writer/header.ts";
import { writeFileAtomic } from "../schema/index.ts";

const root = resolve(import.meta.dirname, "..");
await writeFileAtomic(
  join(root, API_DESCRIPTOR_PATH),
  apiDescriptorModule(headerText("server/api/proto/entdb/v1")),
);
console.log(`wrote ${API_DESCRIPTOR_PATH}`);
