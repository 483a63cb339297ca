/**
 * The errors of a query's filters and order, a search's and a key read's, through a real
 * `entdb serve`: each is INVALID_ARGUMENT and names the field as the schema does
 * (`Task.number`), with the id the request used in parentheses, never by its id alone.
 */

import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { FilterOp } from "../../generated/entdb/v1/entdb_pb.js";
import { connectError, entDbClient, serverPerFile, str, TRACKER, teamPlan } from "./e2e-helpers.ts";

const server = serverPerFile();
const TENANT = "query-errors";
/** `Task` of examples/tracker/schema.entdb: project ref 1, number int 2, due timestamp 7, labels list 9. */
const TASK = 4;

const int = (value: bigint) => ({ kind: { case: "intValue" as const, value } });
const nul = () => ({ kind: { case: "nullValue" as const, value: true } });

beforeAll(async () => {
  // The tenant has a database, so its queries are compiled against the schema.
  await entDbClient(server).executePlan(teamPlan(TENANT, "errors"));
});

type Values = ReturnType<typeof str | typeof int | typeof nul>[];
const filter = (fieldId: number, op: FilterOp, values: Values) => ({ fieldId, op, values });

describe("a query's filter or order that does not fit its field", () => {
  const cases: readonly (readonly [string, ReturnType<typeof filter>, string])[] = [
    [
      "IN with too many values",
      filter(
        TRACKER.teamSlug,
        FilterOp.IN,
        Array.from({ length: 1_001 }, (_, i) => str(`s${i}`)),
      ),
      "Filter IN on Team.slug (field 2) lists 1001 values; the limit is 1000.",
    ],
    [
      "IN with no value",
      filter(TRACKER.teamSlug, FilterOp.IN, []),
      "Filter IN on Team.slug (field 2) needs at least one value.",
    ],
    [
      "EQ with two values",
      filter(TRACKER.teamName, FilterOp.EQ, [str("a"), str("b")]),
      "Filter EQ on Team.name (field 1) takes exactly one value, got 2.",
    ],
    [
      "LT with a null value",
      filter(TRACKER.teamName, FilterOp.LT, [nul()]),
      "Filter LT on Team.name (field 1) cannot take a null value.",
    ],
    [
      "a value of another kind",
      filter(TRACKER.teamName, FilterOp.EQ, [int(1n)]),
      "The value of filter EQ on Team.name (field 1) expects string, got intValue.",
    ],
    [
      "no operator",
      filter(TRACKER.teamSlug, FilterOp.UNSPECIFIED, [str("a")]),
      "Filter on Team.slug (field 2) has no operator (op 0); set one of EQ, NE, LT, LTE, GT, GTE, IN, CONTAINS, PREFIX.",
    ],
    ["an unknown field", filter(42, FilterOp.EQ, [str("a")]), "Team has no field with id 42."],
    [
      "a prefix of the node id with two values",
      filter(0, FilterOp.PREFIX, [str("a"), str("b")]),
      "Filter PREFIX on Team.id (field 0) takes exactly one value, got 2.",
    ],
  ];

  it.each(cases)("QueryNodes: %s", async (_label, f, message) => {
    const err = await connectError(
      entDbClient(server).queryNodes({ tenant: TENANT, typeId: TRACKER.team, filters: [f] }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(message);
  });

  it.each(cases)("Search: %s", async (_label, f, message) => {
    const err = await connectError(
      entDbClient(server).search({
        tenant: TENANT,
        query: "errors",
        typeIds: [TRACKER.team],
        filters: [f],
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(message);
  });

  it("QueryNodes: an operator a field's kind does not take", async () => {
    const api = entDbClient(server);
    for (const [f, message] of [
      [
        filter(2, FilterOp.CONTAINS, [int(1n)]),
        "Filter CONTAINS does not apply to Task.number (field 2), an int field.",
      ],
      [
        filter(9, FilterOp.EQ, [str("ui")]),
        "Filter EQ does not apply to Task.labels (field 9), a list field.",
      ],
      [
        filter(1, FilterOp.LT, [str("p1")]),
        "Filter LT does not apply to Task.project (field 1), a ref field.",
      ],
    ] as const) {
      const err = await connectError(
        api.queryNodes({ tenant: TENANT, typeId: TASK, filters: [f] }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe(message);
    }
  });

  it("QueryNodes and Search: an order by a field that cannot order, or by none", async () => {
    const api = entDbClient(server);
    const byLabels = await connectError(
      api.queryNodes({ tenant: TENANT, typeId: TASK, orderBy: { fieldId: 9 } }),
    );
    expect(byLabels.code).toBe(Code.InvalidArgument);
    expect(byLabels.rawMessage).toBe(
      "Task.labels (field 9) is a list field; results cannot be ordered by it.",
    );
    const unknown = await connectError(
      api.queryNodes({ tenant: TENANT, typeId: TASK, orderBy: { fieldId: 42 } }),
    );
    expect(unknown.rawMessage).toBe("Task has no field with id 42.");
    const search = await connectError(
      api.search({ tenant: TENANT, query: "x", typeIds: [TASK], orderBy: { fieldId: 42 } }),
    );
    expect(search.code).toBe(Code.InvalidArgument);
    expect(search.rawMessage).toBe("Task has no field with id 42.");
  });
});

describe("a key read whose key does not fit the type", () => {
  it("names the fields of a key that is not a unique, an unknown field and a value of another kind", async () => {
    const api = entDbClient(server);
    const notUnique = await connectError(
      api.getNodeByKey({ tenant: TENANT, typeId: TRACKER.team, key: { 1: str("errors") } }),
    );
    expect(notUnique.code).toBe(Code.InvalidArgument);
    expect(notUnique.rawMessage).toBe(
      "The key names Team.name (field 1); a key is one unique field or all fields of one composite unique of Team.",
    );
    const part = await connectError(
      api.getNodeByKey({ tenant: TENANT, typeId: TASK, key: { 2: int(1n) } }),
    );
    expect(part.rawMessage).toBe(
      "The key names Task.number (field 2); a key is one unique field or all fields of one composite unique of Task.",
    );
    const unknown = await connectError(
      api.getNodeByKey({ tenant: TENANT, typeId: TRACKER.team, key: { 42: str("x") } }),
    );
    expect(unknown.rawMessage).toBe("Team has no field with id 42.");
    const kind = await connectError(
      api.getNodeByKey({ tenant: TENANT, typeId: TRACKER.team, key: { 2: int(7n) } }),
    );
    expect(kind.code).toBe(Code.InvalidArgument);
    expect(kind.rawMessage).toBe(
      "The key's value of Team.slug (field 2) expects string, got intValue.",
    );
  });
});
