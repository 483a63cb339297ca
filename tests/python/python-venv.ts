/**
 * A fresh virtualenv with the Python runtime installed from a copy of `runtime/python/`
 * (a build writes into its source dir), layered on the pinned test venv of
 * tests/infra/python.sh through a .pth file, so nothing is downloaded per run.
 */

import { execFileSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../e2e/server-process.ts";

/** Installs the pinned venv if needed, makes `<work>/venv` with the runtime; its python. */
export function runtimeVenv(work: string): string {
  execFileSync("bash", [join(REPO_ROOT, "tests/infra/python.sh"), "install"], { stdio: "ignore" });
  const base = execFileSync("bash", [join(REPO_ROOT, "tests/infra/python.sh"), "path"], {
    encoding: "utf8",
  }).trim();
  execFileSync("python3", ["-m", "venv", "--without-pip", join(work, "venv")]);
  const python = join(work, "venv", "bin", "python");
  const purelib = (exe: string) =>
    execFileSync(exe, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], {
      encoding: "utf8",
    }).trim();
  writeFileSync(
    join(purelib(python), "entdb-test-base.pth"),
    `${purelib(join(base, "bin", "python"))}\n`,
  );
  // Without what an earlier `pip install ./runtime/python` left in the checkout: a copied
  // build/ is newer than the copied sources, and the build would install its stale files.
  cpSync(join(REPO_ROOT, "runtime", "python"), join(work, "runtime-python"), {
    recursive: true,
    filter: (path) => !/[\\/](build|[^\\/]*\.egg-info)$/.test(path),
  });
  execFileSync(
    python,
    [
      "-m",
      "pip",
      "install",
      "-q",
      "--no-deps",
      "--no-build-isolation",
      "--no-index",
      "--disable-pip-version-check",
      join(work, "runtime-python"),
    ],
    { cwd: work, stdio: ["ignore", "pipe", "pipe"] },
  );
  return python;
}
