/**
 * `PushSchema` and `ListSchemaVersions`: registering a schema version on the running
 * server, without a restart (docs/schema-evolution.md).
 *
 * A push is checked by the same compatibility rules as `entdb check`, against the
 * version the server serves. A breaking change is refused with FAILED_PRECONDITION and
 * a `SchemaRejection` detail holding the findings, and nothing is written or logged,
 * unless the push names every rule it breaks in `allow`. An accepted version is written
 * to `<dataDir>/schemas` (as at start), logged as a `SchemaChange` event carrying the
 * pusher as its actor and the allowed rules, and only once that event is durable is it
 * served (`adopt`): every plan validated against the new version is logged after the
 * event that announces it, so the applier always knows the version a plan carries, and a
 * replay of the log gives the same result.
 *
 * Pushes are serialized: each is checked against the version the previous one left.
 *
 * On a server of a cluster (`cluster`) a push first learns the versions other servers
 * logged, so it is checked against the cluster's newest; its event is logged through
 * server/cluster/cluster-schema-log.ts (ordered by the log's home partition, then copied
 * to every partition), and a push that lost a race for its version number is refused
 * with ABORTED, or answers `changed: false` when the winner is the same schema.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type EntDbService,
  type SchemaFinding,
  SchemaFindingSchema,
  SchemaRejectionSchema,
  type SchemaVersionInfo,
  SchemaVersionInfoSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import {
  checkCompat,
  compileSchema,
  type Finding,
  hasBreaking,
  isCompatRuleId,
  renderDiagnostics,
  schemaFingerprint,
} from "../../schema/index.ts";
import { SCHEMA_LOG_KEY } from "../apply/applier.ts";
import { SchemaRaceLostError } from "../cluster/cluster-schema-log.ts";
import type { ServedSchema } from "../engine.ts";
import { type Registration, readVersionInfo, registerSchema } from "../schema-registry.ts";
import type { Wal, WalPosition } from "../wal/wal.ts";
import { handlerGuard } from "./api-errors.ts";
import { requireActor } from "./auth.ts";
import { fromWalPosition } from "./entdb-service.ts";

/** What the schema registration handlers need. */
export interface SchemaPushDeps {
  /** The version served now. */
  served(): ServedSchema;
  /** Every registered version, the served one last. */
  versions(): ReadonlyMap<number, ServedSchema>;
  readonly dataDir: string;
  readonly wal: Wal;
  /** Dev mode: every caller may push. */
  readonly openAccess: boolean;
  /** Serves a registered and logged version (the typed services, reflection, GetSchema). */
  adopt(registration: Registration): void;
  logError(err: unknown): void;
  /** Runs registrations one at a time (default: a queue of the handlers' own). */
  readonly serialized?: SerialQueue;
  /** A server of a cluster: how a version reaches the other servers. */
  readonly cluster?: ClusterSchemaDeps;
}

/** How a push reaches every server of a cluster (server/cluster/cluster-schema-log.ts). */
export interface ClusterSchemaDeps {
  /** Learns (registers and serves) the versions other servers logged since the last call. */
  sync(): Promise<void>;
  /** Logs a `SchemaChange` in every partition; throws `SchemaRaceLostError` on a lost race. */
  log(event: WalEvent): Promise<{ readonly position: WalPosition; readonly identical: boolean }>;
  /** Logs a `SchemaChange` again in every partition but its home one. */
  copy(event: WalEvent): Promise<void>;
}

/** Runs `body` after every body queued before it (a failed one included). */
export type SerialQueue = <T>(body: () => Promise<T>) => Promise<T>;

/** A {@link SerialQueue}. */
export function createSerialQueue(): SerialQueue {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(body: () => Promise<T>): Promise<T> => {
    const run = queue.then(body, body);
    queue = run.catch(() => {});
    return run;
  };
}

type SchemaHandlers = Pick<ServiceImpl<typeof EntDbService>, "pushSchema" | "listSchemaVersions">;

const DEFAULT_PATH = "schema.entdb";

/** Creates the PushSchema and ListSchemaVersions handlers. */
export function createSchemaPushHandlers(deps: SchemaPushDeps): SchemaHandlers {
  const serialized = deps.serialized ?? createSerialQueue();
  const guard = handlerGuard(deps.logError);

  return {
    pushSchema: (req, ctx) =>
      guard(() => {
        const actor = requireActor(ctx.values);
        if (!actor.admin && !deps.openAccess) {
          throw new ConnectError(
            "Only a server administrator (--admins) may push a schema.",
            Code.PermissionDenied,
          );
        }
        if (req.source.trim() === "") {
          throw new ConnectError(
            "The request has no schema; set `source` to the text of the schema file.",
            Code.InvalidArgument,
          );
        }
        const path = req.path || DEFAULT_PATH;
        const allow = new Set<string>();
        for (const rule of req.allow) {
          if (!isCompatRuleId(rule)) {
            throw new ConnectError(
              `\`allow\` names '${rule.slice(0, 60)}', which is not a compatibility rule; run 'entdb check --help' for the list.`,
              Code.InvalidArgument,
            );
          }
          allow.add(rule);
        }
        const source = { path, text: req.source };
        const compiled = compileSchema(source);
        if (!compiled.schema) {
          throw new ConnectError(
            `The schema does not compile:\n${renderDiagnostics(compiled.diagnostics, source)}`,
            Code.InvalidArgument,
          );
        }
        const model = compiled.schema;

        return serialized(async () => {
          await deps.cluster?.sync();
          const served = deps.served();
          const fingerprint = schemaFingerprint(model);
          const findings = checkCompat(served.model, model);
          if (fingerprint === served.fingerprint) {
            // Completes a push of this version that stopped between its records.
            if (deps.cluster) {
              const was = readVersionInfo(deps.dataDir, served.version);
              await deps.cluster.copy(
                changeEvent(
                  served,
                  { id: was?.principal ?? actor.id, admin: actor.admin },
                  was?.registeredAt ? new Date(was.registeredAt) : new Date(),
                  was?.allowedRules ?? [],
                ),
              );
            }
            return { version: served.version, fingerprint, changed: false, findings: [] };
          }
          if (hasBreaking(findings, allow)) {
            const breaking = findings.filter(
              (f) => f.category === "breaking" && !allow.has(f.rule),
            );
            throw new ConnectError(
              `The schema is not compatible with version ${served.version} that the server serves: ${breaking.length} breaking change(s) (${[...new Set(breaking.map((f) => f.rule))].join(", ")}). Nothing was changed. Make the change compatible, or name the rules it may break with \`allow\`.`,
              Code.FailedPrecondition,
              undefined,
              [
                {
                  desc: SchemaRejectionSchema,
                  value: create(SchemaRejectionSchema, {
                    servedVersion: served.version,
                    findings: findings.map((f) => toProto(f, allow)),
                  }),
                },
              ],
            );
          }
          const older = [...deps.versions().values()].find((v) => v.fingerprint === fingerprint);
          if (older) {
            throw new ConnectError(
              `The schema is version ${older.version}, older than version ${served.version} that the server serves; a push cannot go back. Change the schema forward instead (deprecate, then remove and reserve).`,
              Code.FailedPrecondition,
            );
          }

          const now = new Date();
          const info = {
            registeredAt: now.toISOString(),
            principal: actor.id,
            allowedRules: [...allow].sort(),
          };
          const registration = await registerSchema(deps.dataDir, model, {
            allow,
            info,
            versions: deps.versions(),
          });
          const current = registration.current;
          const event = changeEvent(current, actor, now, info.allowedRules);
          let position: WalPosition | undefined;
          let identical = false;
          try {
            if (deps.cluster) ({ position, identical } = await deps.cluster.log(event));
            else
              [position] = await deps.wal.append([
                { tenant: SCHEMA_LOG_KEY, payload: toBinary(WalEventSchema, event) },
              ]);
          } catch (err) {
            // Not logged, so not registered: the next push or start must not find it.
            forgetVersion(deps.dataDir, current.version);
            if (err instanceof SchemaRaceLostError) {
              await deps.cluster?.sync();
              throw new ConnectError(
                `${err.message} Push again: the schema is then checked against version ${err.winner.version}.`,
                Code.Aborted,
              );
            }
            throw err;
          }
          deps.adopt(registration);
          return {
            version: current.version,
            fingerprint: current.fingerprint,
            changed: !identical,
            findings: findings.map((f) => toProto(f, allow)),
            ...(position ? { position: fromWalPosition(position) } : {}),
          };
        });
      }),

    listSchemaVersions: (_req, ctx) =>
      guard(() => {
        requireActor(ctx.values);
        const versions: SchemaVersionInfo[] = [];
        for (const v of deps.versions().values()) {
          const info = readVersionInfo(deps.dataDir, v.version);
          const at = info?.registeredAt ? new Date(info.registeredAt) : undefined;
          versions.push(
            create(SchemaVersionInfoSchema, {
              version: v.version,
              fingerprint: v.fingerprint,
              principal: info?.principal ?? "",
              allowedRules: [...(info?.allowedRules ?? [])],
              ...(at && !Number.isNaN(at.getTime()) ? { registeredAt: timestampFromDate(at) } : {}),
            }),
          );
        }
        return { versions };
      }),
  };
}

/** The `SchemaChange` event that logs `version`. */
function changeEvent(
  version: ServedSchema,
  actor: { readonly id: string; readonly admin: boolean },
  at: Date,
  allowedRules: readonly string[],
): WalEvent {
  return create(WalEventSchema, {
    tenant: SCHEMA_LOG_KEY,
    actor: actor.id,
    actorAdmin: actor.admin,
    schemaVersion: version.version,
    ingressTime: timestampFromDate(at),
    body: {
      case: "schemaChange",
      value: {
        version: version.version,
        fingerprint: version.fingerprint,
        lockJson: version.lockJson,
        allowedRules: [...allowedRules],
      },
    },
  });
}

/** A finding as the API carries it. */
function toProto(f: Finding, allow: ReadonlySet<string>): SchemaFinding {
  return create(SchemaFindingSchema, {
    rule: f.rule,
    category: f.category,
    message: f.message,
    allowed: f.category === "breaking" && allow.has(f.rule),
    ...(f.span ? { spanStart: f.span.start, spanEnd: f.span.end } : {}),
  });
}

/** Removes the files of `version`, registered but not logged. */
export function forgetVersion(dataDir: string, version: number): void {
  const stem = `v${String(version).padStart(6, "0")}`;
  for (const suffix of [".lock.json", ".info.json"]) {
    rmSync(join(dataDir, "schemas", `${stem}${suffix}`), { force: true });
  }
}
