/**
 * The plans and checks of the server crash test (`server-crash.test.ts`): each plan
 * creates a Team, a User and a MemberOf edge between them atomically, and every value
 * that must be unique (slug, email, handle, idempotency key) encodes the plan number,
 * so a plan's effects can be found, counted and told apart after any number of crashes.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { Direction, type EntDbService, type Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import type { ValueSchema } from "../../generated/entdb/v1/values_pb.js";

type Operation = MessageInitShape<typeof OperationSchema>;
type Value = MessageInitShape<typeof ValueSchema>;

/** Type and field ids of `examples/tracker/schema.entdb` that the plans use. */
export const TRACKER = {
  user: 1,
  team: 2,
  memberOf: 100,
  userEmail: 1,
  userDisplayName: 2,
  userHandle: 3,
  userJoinedAt: 6,
  teamName: 1,
  teamSlug: 2,
  memberOfSince: 2,
} as const;

/** The Connect client of the EntDB API. */
export type EntDbClient = Client<typeof EntDbService>;

/** Plan number `n`: where it goes and the unique values that identify its effects. */
export interface CrashPlan {
  readonly n: number;
  readonly tenant: string;
  readonly key: string;
  readonly slug: string;
  readonly email: string;
  /** Sent with `no_wait`: acknowledged once durable, before it is applied. */
  readonly noWait: boolean;
}

/** The ids and log position an acknowledgement returned (or a retry confirmed). */
export interface PlanIds {
  readonly teamId: string;
  readonly userId: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** Plan number `n` spread over `tenants`; every fourth plan is `no_wait`. */
export function crashPlan(n: number, tenants: readonly string[]): CrashPlan {
  const tenant = tenants[n % tenants.length] ?? "crash";
  return {
    n,
    tenant,
    key: `plan-${n}`,
    slug: `team-${n}`,
    email: `user-${n}@example.com`,
    noWait: n % 4 === 3,
  };
}

const str = (value: string): Value => ({ kind: { case: "stringValue", value } });
const at = (n: number): Value => ({
  kind: { case: "timestampValue", value: { seconds: BigInt(1_700_000_000 + n), nanos: 0 } },
});

/** The operations of a plan: Team, User and MemberOf(User → Team), linked by aliases. */
export function planOperations(plan: CrashPlan): Operation[] {
  const { n } = plan;
  return [
    {
      op: {
        case: "createNode",
        value: {
          typeId: TRACKER.team,
          alias: "team",
          fields: { [TRACKER.teamName]: str(`Team ${n}`), [TRACKER.teamSlug]: str(plan.slug) },
        },
      },
    },
    {
      op: {
        case: "createNode",
        value: {
          typeId: TRACKER.user,
          alias: "user",
          fields: {
            [TRACKER.userEmail]: str(plan.email),
            [TRACKER.userDisplayName]: str(`User ${n}`),
            [TRACKER.userHandle]: str(`user${n}`),
            [TRACKER.userJoinedAt]: at(n),
          },
        },
      },
    },
    {
      op: {
        case: "createEdge",
        value: {
          edgeTypeId: TRACKER.memberOf,
          fromId: "$user",
          toId: "$team",
          props: { [TRACKER.memberOfSince]: at(n) },
        },
      },
    },
  ];
}

/** The node with `fieldId` = `value`, or undefined when there is none. */
export async function nodeByKey(
  client: EntDbClient,
  tenant: string,
  typeId: number,
  fieldId: number,
  value: string,
): Promise<Node | undefined> {
  try {
    const res = await client.getNodeByKey({ tenant, typeId, key: { [fieldId]: str(value) } });
    return res.node;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/** Every node of `typeId` in `tenant`, keyed by the string field `fieldId`; duplicates throw. */
export async function allNodesBy(
  client: EntDbClient,
  tenant: string,
  typeId: number,
  fieldId: number,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "";
  do {
    const page = await client.queryNodes({ tenant, typeId, limit: 1000, cursor });
    for (const node of page.nodes) {
      const kind = node.fields[fieldId]?.kind;
      const value = kind?.case === "stringValue" ? kind.value : "";
      if (out.has(value))
        throw new Error(`tenant ${tenant}: two nodes of type ${typeId} hold '${value}'`);
      out.set(value, node.id);
    }
    cursor = page.nextCursor;
  } while (cursor !== "");
  return out;
}

/** The `to` ids of the MemberOf edges leaving `userId`. */
export async function teamsOfUser(
  client: EntDbClient,
  tenant: string,
  userId: string,
): Promise<string[]> {
  const res = await client.listEdges({
    tenant,
    edgeTypeId: TRACKER.memberOf,
    nodeId: userId,
    direction: Direction.OUT,
    limit: 10,
  });
  return res.edges.map((e) => e.toId);
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
export async function inPool<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
