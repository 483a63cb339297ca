/** The tracker example's model, compiled from `examples/tracker/schema.entdb`. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileSchema } from "../../schema/compile.ts";
import type { Schema } from "../../schema/model.ts";

const repoRoot = join(import.meta.dirname, "../..");

/** Compiles the tracker example; throws if it does not compile. */
export function trackerSchema(): Schema {
  const path = "examples/tracker/schema.entdb";
  const result = compileSchema({ path, text: readFileSync(join(repoRoot, path), "utf8") });
  if (result.schema === undefined) throw new Error("the tracker example does not compile");
  return result.schema;
}
