/**
 * The `out` setting of `entdb.config.json` (the `schema` setting is read by the schema
 * layer's loader, which also parses the file for this one), so a project's build step is
 * just `entdb generate`.
 */

import { readConfigPath } from "../../schema/cli/index.ts";

/** The out dir used when neither `--out` nor `entdb.config.json` names one. */
export const DEFAULT_OUT_DIR = "generated";

/**
 * The out dir a run uses: the flag, else `out` from `entdb.config.json` in `cwd`, else
 * `generated`. Throws `SchemaLoadError` (`CONFIG_INVALID`) for a bad config file.
 */
export async function resolveOutDir(flag: string | undefined, cwd: string): Promise<string> {
  if (flag !== undefined) return flag;
  return (await readConfigPath("out", cwd)) ?? DEFAULT_OUT_DIR;
}

/**
 * The Python package's out dir: the flag, else `python` from `entdb.config.json` in
 * `cwd`, else none (no Python client is generated).
 */
export async function resolvePythonOutDir(
  flag: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  if (flag !== undefined) return flag;
  return readConfigPath("python", cwd);
}
