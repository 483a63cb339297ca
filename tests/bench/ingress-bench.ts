/**
 * `node tests/bench/ingress-bench.ts [TREE]`: ingress's CPU per created node for plans of
 * 100 User creates, in one process without HTTP or the log: `preparePlan` (checks, ids,
 * defaults, the plan's digest) and then `encodeWalEvent`, on 300 plans, ten passes after
 * five to warm up, timed by `process.cpuUsage` (garbage collection included). TREE is
 * another checkout of the repository whose ingress to time (default: this one), so two
 * builds can be run one after the other, alternating. A measurement, not a test.
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { create as Create } from "@bufbuild/protobuf";
import type { OperationSchema as OperationSchemaType } from "../../generated/entdb/v1/plan_pb.js";
import type { compileSchema as CompileSchema, Schema } from "../../schema/index.ts";
import type { preparePlan as PreparePlan } from "../../server/api/ingress/prepare-plan.ts";
import type { encodeWalEvent as EncodeWalEvent } from "../../server/api/ingress/wal-event-wire.ts";

const tree = resolve(process.argv[2] ?? join(import.meta.dirname, "..", ".."));
const { create } = (await import(
  join(tree, "node_modules", "@bufbuild", "protobuf", "dist", "esm", "index.js")
)) as { create: typeof Create };
const { OperationSchema } = (await import(
  join(tree, "generated", "entdb", "v1", "plan_pb.js")
)) as {
  OperationSchema: typeof OperationSchemaType;
};
const { compileSchema } = (await import(join(tree, "schema", "index.ts"))) as {
  compileSchema: typeof CompileSchema;
};
const { preparePlan } = (await import(
  join(tree, "server", "api", "ingress", "prepare-plan.ts")
)) as { preparePlan: typeof PreparePlan };
const { encodeWalEvent } = (await import(
  join(tree, "server", "api", "ingress", "wal-event-wire.ts")
)) as { encodeWalEvent: typeof EncodeWalEvent };

const path = join(tree, "examples", "tracker", "schema.entdb");
const schema = compileSchema({ path, text: readFileSync(path, "utf8") }).schema as Schema;
const USER = 1;
const PLANS = 300;
const CREATES = 100;
const PASSES = 10;

const str = (value: string) => ({ kind: { case: "stringValue" as const, value } });
let n = 0;
/** A plan like the load generator's `create-100`: email, name, handle, joined time. */
function plan() {
  return Array.from({ length: CREATES }, (_, i) => {
    const tag = `t${n++}`;
    return create(OperationSchema, {
      op: {
        case: "createNode",
        value: {
          typeId: USER,
          fields: {
            1: str(`user-${tag}@example.com`),
            2: str(`User ${tag}`),
            3: str(`user${tag}`),
            6: {
              kind: {
                case: "timestampValue",
                value: { seconds: 1_700_000_000n + BigInt(i), nanos: 0 },
              },
            },
          },
        },
      },
    });
  });
}

const plans = Array.from({ length: PLANS }, plan);
const pass = (): void => {
  for (const operations of plans) {
    const event = preparePlan(operations, {
      schema,
      schemaVersion: 1,
      tenant: "bench",
      actor: "dev",
      idempotencyKey: `auto:${n++}`,
    });
    encodeWalEvent(event);
  }
};
for (let i = 0; i < 5; i++) pass();
const start = process.cpuUsage();
for (let i = 0; i < PASSES; i++) pass();
const used = process.cpuUsage(start);
const perNode = (used.user + used.system) / (PASSES * PLANS * CREATES);
console.log(`${tree}: ${perNode.toFixed(2)} µs of CPU per created node`);
