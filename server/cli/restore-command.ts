/**
 * `entdb restore`: rebuilds a data dir from an archive alone (`server/archive/restore.ts`),
 * and `entdb dump`: prints the canonical dump of a data dir's tenants, so two data dirs
 * can be compared with `diff`. Exit codes: 0 done, 1 the restore failed (the message
 * names the object or the setting at fault), 2 a usage error.
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { ArchiveError } from "../archive/archive-error.ts";
import { dataDirInUse, RESTORE_UNFINISHED } from "../data-dir.ts";
import { createLogger, parseLogLevel } from "../log.ts";

/** The `restore` and `dump` commands. */
export function restoreCommands(): Command[] {
  const restore = new Command("restore")
    .description(
      "Rebuild a data dir from an archive (s3://BUCKET/PREFIX or a directory): the newest state, a point in time, or one tenant.",
    )
    .requiredOption(
      "--from <archive>",
      "the archive: s3://BUCKET/PREFIX, or a directory (/mnt/backup/entdb, file:///mnt/backup/entdb; a relative path is taken from the current directory)",
    )
    .requiredOption("--data-dir <dir>", "the data dir to create (must be empty unless --force)")
    .option(
      "--s3-endpoint <url>",
      "S3 endpoint of an s3:// archive (env ENTDB_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)",
    )
    .option("--tenant <id>", "restore this tenant only")
    .option("--as-tenant <id>", "with --tenant: restore it under this id")
    .option(
      "--to-position <offset>",
      "stop after this offset of the tenant's partition (needs --tenant unless the log has one partition)",
    )
    .option("--to-time <time>", "stop before the first event logged after this ISO 8601 time")
    .option("--force", "replace what the data dir holds")
    .option("--log-level <level>", "debug, info, warn or error (default warn)")
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      process.exitCode = await runRestore(opts);
    });
  const dump = new Command("dump")
    .description(
      "Print the canonical dump of a data dir's tenant databases (byte-comparable between data dirs).",
    )
    .requiredOption("--data-dir <dir>", "the data dir")
    .option("--tenant <id>", "this tenant only")
    .action(async (opts: { dataDir: string; tenant?: string }) => {
      process.exitCode = await runDump(opts);
    });
  return [restore, dump];
}

async function runRestore(opts: Record<string, string | boolean | undefined>): Promise<number> {
  const text = (key: string) => (typeof opts[key] === "string" ? (opts[key] as string) : undefined);
  let toPosition: number | undefined;
  let toTime: Date | undefined;
  const position = text("toPosition");
  if (position !== undefined) {
    if (!/^\d+$/.test(position) || !Number.isSafeInteger(Number(position))) {
      process.stderr.write(
        `error: --to-position must be a log offset (an integer), got '${position}'.\n`,
      );
      return 2;
    }
    toPosition = Number(position);
  }
  const time = text("toTime");
  if (time !== undefined) {
    toTime = new Date(time);
    if (Number.isNaN(toTime.getTime())) {
      process.stderr.write(
        `error: --to-time must be an ISO 8601 time like 2026-01-31T12:00:00Z, got '${time}'.\n`,
      );
      return 2;
    }
  }
  const dataDir = text("dataDir") ?? "";
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
    process.stderr.write(
      `error: The data dir ${dataDir} is a file, not a directory; restore into an empty or new directory.\n`,
    );
    return 2;
  }
  // --force empties the dir: under a running server that deletes the files it serves
  // (its open log included, so what it acknowledges next is lost at its next start).
  if (existsSync(dataDir) && dataDirInUse(dataDir)) {
    process.stderr.write(
      `error: The data dir ${dataDir} is in use by a running entdb serve (it holds the lock on serve.lock); a restore would replace the files it serves. Stop that server first, or restore into another --data-dir.\n`,
    );
    return 2;
  }
  let log = createLogger("warn");
  try {
    log = createLogger(parseLogLevel(text("logLevel") ?? "warn"));
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  const { checkArchiveApart, openObjectStore, parseArchiveUrl, restoreArchive } = await import(
    "../archive/index.ts"
  );
  const progress = createProgress(process.stderr);
  let store: Awaited<ReturnType<typeof openObjectStore>> | undefined;
  try {
    const location = parseArchiveUrl(text("from") ?? "");
    if (location.kind === "dir") checkArchiveApart(location, dataDir);
    // The flag, then ENTDB_S3_ENDPOINT, as for serve (an empty value counts as unset).
    const endpoint = text("s3Endpoint") || process.env["ENTDB_S3_ENDPOINT"] || undefined;
    store = await openObjectStore(location, { endpoint, create: false });
    if (location.kind === "dir" && !existsSync(join(location.root, "log.json")))
      throw new ArchiveError(
        "not-found",
        `There is no archive at ${location.root}: it holds no log.json (the file entdb serve --archive writes first); check --from.`,
      );
    const tenant = text("tenant");
    const asTenant = text("asTenant");
    const result = await restoreArchive({
      store,
      location,
      dataDir,
      ...(tenant === undefined ? {} : { tenant }),
      ...(asTenant === undefined ? {} : { asTenant }),
      ...(toPosition === undefined ? {} : { toPosition }),
      ...(toTime === undefined ? {} : { toTime }),
      force: opts["force"] === true,
      log,
      progress: progress.update,
    });
    progress.end();
    const ends = result.ends.map((end, p) => `${p}:${end}`).join(" ");
    process.stdout.write(
      `restored ${result.records} events from ${result.segments} segments and ${result.snapshots} snapshots of ${location.url} into ${dataDir}\n` +
        `log ${result.identity}${result.holdsLog ? "" : " (not in the data dir: serve it with that log)"}; next positions ${ends}\n`,
    );
    if (result.parked.length > 0) {
      process.stderr.write(
        `error: these tenants could not be applied (see the log above): ${result.parked.join(", ")}\n`,
      );
      return 1;
    }
    return 0;
  } catch (error) {
    progress.end();
    if (error instanceof ArchiveError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.code === "invalid" ? 2 : 1;
    }
    log.error("restore failed", { err: error });
    return 1;
  } finally {
    store?.close();
  }
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal, otherwise a plain line when the
 * phase changes and at most every 2 s, with events/s and the time left.
 */
export function createProgress(
  out: { readonly isTTY?: boolean; write(text: string): unknown },
  now: () => number = Date.now,
): {
  update(p: { phase: "read" | "apply"; done: number; total: number }): void;
  end(): void;
} {
  const tty = out.isTTY === true;
  let phase = "";
  let started = 0;
  let lastLine = 0;
  let drawn = false;
  // The last plain line held back by the 2 s rate: written when its phase ends, so a
  // phase that stops short of its total (a restore cut by --to-time) shows where it ended.
  let held: string | undefined;
  const flush = () => {
    if (held !== undefined) out.write(held);
    held = undefined;
  };
  return {
    update(p) {
      const at = now();
      if (p.phase !== phase) {
        flush();
        if (drawn) out.write("\n");
        drawn = false;
        phase = p.phase;
        started = at;
        lastLine = Number.NEGATIVE_INFINITY;
      }
      const unit = p.phase === "read" ? "segments" : "events";
      const seconds = (at - started) / 1000;
      const rate = seconds > 0 ? p.done / seconds : 0;
      const eta = rate > 0 ? Math.ceil((p.total - p.done) / rate) : undefined;
      const stats = `${p.done}/${p.total} ${unit}${p.phase === "apply" ? `, ${Math.round(rate)} events/s` : ""}${eta === undefined ? "" : `, ETA ${eta} s`}`;
      if (tty) {
        const width = 30;
        const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
        out.write(
          `\r${p.phase.padEnd(5)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${stats}\x1b[K`,
        );
        drawn = true;
      } else if (at - lastLine >= 2000 || p.done === p.total) {
        out.write(`restore: ${p.phase} ${stats}\n`);
        lastLine = at;
        held = undefined;
      } else {
        held = `restore: ${p.phase} ${stats}\n`;
      }
    },
    end() {
      flush();
      if (drawn) out.write("\n");
      drawn = false;
    },
  };
}

async function runDump(opts: { dataDir: string; tenant?: string }): Promise<number> {
  const { canonicalDump, listTenantIds, tenantFileName, validateTenantId } = await import(
    "../store/index.ts"
  );
  // A server refuses such a dir; a dump of it would look like any other, partial or not.
  const unfinished = join(opts.dataDir, RESTORE_UNFINISHED);
  if (existsSync(unfinished)) {
    process.stderr.write(
      `error: ${opts.dataDir} holds a restore that did not finish (${readFileSync(unfinished, "utf8").trim()}): its tenant databases may be partial or missing; run that \`entdb restore\` again with --force, then dump.\n`,
    );
    return 1;
  }
  const tenantsDir = join(opts.dataDir, "tenants");
  if (!existsSync(tenantsDir)) {
    process.stderr.write(`error: ${opts.dataDir} is not an EntDB data dir (it has no tenants/).\n`);
    return 1;
  }
  let tenants: string[];
  try {
    tenants =
      opts.tenant === undefined ? listTenantIds(tenantsDir) : [validateTenantId(opts.tenant)];
  } catch (error) {
    process.stderr.write(`error: --tenant: ${(error as Error).message}\n`);
    return 2;
  }
  for (const tenant of tenants) {
    const path = join(tenantsDir, tenantFileName(tenant));
    if (!existsSync(path)) {
      process.stderr.write(`error: ${opts.dataDir} holds no database of tenant '${tenant}'.\n`);
      return 1;
    }
    process.stdout.write(`-- tenant ${tenant}\n${canonicalDump(path)}`);
  }
  return 0;
}
