/**
 * The `out` setting of `entdb.config.json` (the `schema` setting is read by the schema
 * layer's loader), so a project's build step is just `entdb generate`.
 */

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  CONFIG_FILE,
  errorReason,
  isNotFound,
  SchemaLoadError,
} from "../../schema/cli/load-schema.ts";

/** The out dir used when neither `--out` nor `entdb.config.json` names one. */
export const DEFAULT_OUT_DIR = "generated";

/**
 * The out dir a run uses: the flag, else `out` from `entdb.config.json` in `cwd`, else
 * `generated`. Throws `SchemaLoadError` (`CONFIG_INVALID`) for a bad config file.
 */
export async function resolveOutDir(flag: string | undefined, cwd: string): Promise<string> {
  if (flag !== undefined) return flag;
  let text: string;
  try {
    text = await readFile(resolve(cwd, CONFIG_FILE), "utf8");
  } catch (err) {
    if (isNotFound(err)) return DEFAULT_OUT_DIR;
    throw new SchemaLoadError(
      "CONFIG_INVALID",
      `cannot read '${CONFIG_FILE}': ${errorReason(err)}`,
      { cause: err },
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new SchemaLoadError("CONFIG_INVALID", `'${CONFIG_FILE}' is not valid JSON.`, { cause });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new SchemaLoadError("CONFIG_INVALID", `'${CONFIG_FILE}' must hold a JSON object.`);
  }
  const out = (config as Record<string, unknown>)["out"];
  if (out === undefined) return DEFAULT_OUT_DIR;
  if (typeof out !== "string" || out === "") {
    throw new SchemaLoadError(
      "CONFIG_INVALID",
      `'${CONFIG_FILE}': "out" must be a non-empty string path.`,
    );
  }
  return out;
}
