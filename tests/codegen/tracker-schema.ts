/**
 * The example tracker schema (`examples/tracker/schema.entdb`), compiled: the input of
 * the codegen tests that must hold for a real schema.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileSchema } from "../../schema/compile.ts";
import type { Schema } from "../../schema/model.ts";
import { REPO_ROOT } from "./repo-temp-dir.ts";

/** Compiles DSL text; throws with the diagnostics if it does not compile. */
export function compileText(path: string, text: string): Schema {
  const result = compileSchema({ path, text });
  if (result.schema === undefined) {
    throw new Error(
      `${path} does not compile:\n${result.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`,
    );
  }
  return result.schema;
}

/** The compiled tracker example. */
export function trackerSchema(): Schema {
  const path = "examples/tracker/schema.entdb";
  return compileText(path, readFileSync(join(REPO_ROOT, path), "utf8"));
}
