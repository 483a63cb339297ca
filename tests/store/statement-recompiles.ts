/**
 * Whether SQLite compiles a prepared statement again on every call.
 *
 * SQLite here is built with STAT4, and its planner reads the value bound to a bare `?`
 * in `LIMIT`, or compared with an indexed column that has statistics samples; binding
 * such a parameter again marks the statement expired, so the next step prepares it
 * anew. `+?` is not read by the planner and leaves the index usable. better-sqlite3
 * does not expose `sqlite3_stmt_status(SQLITE_STMTSTATUS_REPREPARE)`, and the build has
 * no `sqlite_stmt` table, so this measures it: the fastest per-call time of the
 * statement against the fastest per-call time of the same statement with every bare
 * parameter written with a `+`, which never recompiles. A compile costs several times a
 * small statement's call (measured: 3 to 9 times on a tenant's point reads and one-row
 * pages), so a statement that recompiles takes at least twice its twin's time, and one
 * that does not takes about the same. Callers bind small pages (a limit of 1): a
 * statement that returns hundreds of rows hides its compile in its own work. Rounds alternate the two sides (which goes first alternates too) and
 * the fastest round of each counts, so a loaded machine slows both sides, not one.
 *
 * Writes run inside a transaction that is rolled back; a call that fails (a repeated
 * insert hitting a unique key) fails the same way on both sides and is timed as is.
 */

import type Database from "better-sqlite3";

/** At or above this ratio to its `+?` twin a statement is taken as recompiling. */
export const RECOMPILE_RATIO = 2;

export interface RecompileProbe {
  /** Fastest per-call time of the statement, µs. */
  readonly callUs: number;
  /** Fastest per-call time of its `+?` twin, µs. */
  readonly twinUs: number;
  /** `callUs / twinUs`. */
  readonly ratio: number;
  /** Whether the ratio is at or above {@link RECOMPILE_RATIO}. */
  readonly recompiles: boolean;
}

/**
 * `sql` with every bare parameter (`?`, `?1`, `@p`, `:p`, `$p`; outside string literals)
 * written with a `+`.
 */
export function plusParameters(sql: string): string {
  return sql.replace(
    /('(?:[^']|'')*')|(\+\s*)?(\?\d*|[@:$][A-Za-z_]\w*)/g,
    (m, literal: string | undefined, plus: string | undefined, param: string) =>
      literal !== undefined || plus !== undefined ? m : `+${param}`,
  );
}

/**
 * Measures `sql` with `params` on `db` (see the module comment). A statement that
 * recompiles is at least twice as slow as its twin in every measurement, because the
 * fastest round of each side counts and a compile is paid on every call; a statement
 * that does not only looks so when the machine's load slowed each of its twin's rounds.
 * So a ratio at or above {@link RECOMPILE_RATIO} is measured again, up to `attempts`
 * times in all, and the statement is taken as recompiling only if every measurement says
 * so; the first that does not is the answer.
 */
export function probeRecompile(
  db: Database.Database,
  sql: string,
  params: readonly unknown[],
  options: { rounds?: number; calls?: number; attempts?: number } = {},
): RecompileProbe {
  const attempts = options.attempts ?? 3;
  let probe = measureOnce(db, sql, params, options);
  for (let a = 1; a < attempts && probe.recompiles; a++)
    probe = measureOnce(db, sql, params, options);
  return probe;
}

/** One measurement of `sql` against its `+?` twin. */
function measureOnce(
  db: Database.Database,
  sql: string,
  params: readonly unknown[],
  options: { rounds?: number; calls?: number },
): RecompileProbe {
  const rounds = options.rounds ?? 9;
  const calls = options.calls ?? 300;
  const statements = [db.prepare(sql), db.prepare(plusParameters(sql))];
  const call = (s: Database.Statement): void => {
    try {
      if (s.reader) s.all(...params);
      else s.run(...params);
    } catch {
      // The same failure on both sides (see the module comment).
    }
  };
  const write = !statements[0]!.reader;
  const best = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  if (write) db.exec("BEGIN");
  try {
    for (const s of statements) call(s);
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const s = statements[side]!;
        const start = process.hrtime.bigint();
        for (let i = 0; i < calls; i++) call(s);
        const us = Number(process.hrtime.bigint() - start) / 1000 / calls;
        best[side] = Math.min(best[side]!, us);
      }
    }
  } finally {
    if (write) db.exec("ROLLBACK");
  }
  const [callUs, twinUs] = best as [number, number];
  const ratio = callUs / twinUs;
  return { callUs, twinUs, ratio, recompiles: ratio >= RECOMPILE_RATIO };
}
