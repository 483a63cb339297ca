import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import * as v1 from "../../runtime/v1.ts";

describe("the runtime's earlier spellings", () => {
  it("are the renamed values themselves, so instanceof and new keep working", () => {
    expect(v1.EntdbError).toBe(v1.EntDbError);
    expect(v1.EntdbClientCore).toBe(v1.EntDbClientCore);
    expect(v1.toEntdbError).toBe(v1.toEntDbError);

    const old: v1.EntdbError = new v1.EntdbError("internal", "boom");
    expect(old).toBeInstanceOf(v1.EntDbError);
    expect([old.name, old.code, old.message]).toEqual(["EntDbError", "internal", "boom"]);
    const mapped = v1.toEntdbError(new ConnectError("gone", Code.NotFound));
    expect(mapped).toBeInstanceOf(v1.EntdbError);
    expect(mapped).toBeInstanceOf(v1.NotFoundError);
  });

  it("keep the old type names for annotations", () => {
    const code: v1.EntdbErrorCode = "not_found";
    const options: v1.EntdbErrorOptions = { cause: new Error("wire") };
    const error: v1.EntDbError = new v1.EntDbError(code, "missing", options);
    expect([error.code, error.cause]).toEqual(["not_found", options.cause]);
  });
});
