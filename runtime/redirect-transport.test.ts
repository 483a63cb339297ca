import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TenantOwnerSchema } from "../generated/entdbcluster/v1/cluster_pb.js";
import { redirectOf } from "./redirect-transport.ts";

const owner = (tenant: string, url: string, retryAfterMs = 0) => ({
  desc: TenantOwnerSchema,
  value: create(TenantOwnerSchema, { tenant, url, retryAfterMs }),
});

describe("redirectOf", () => {
  it("reads the owner from the TenantOwner detail of a FAILED_PRECONDITION", () => {
    const err = new ConnectError("elsewhere", Code.FailedPrecondition, undefined, [
      owner("acme", "http://10.0.0.6:50051"),
    ]);
    expect(redirectOf(err)).toEqual({ tenant: "acme", url: "http://10.0.0.6:50051" });
  });

  it("falls back to the entdb-tenant-owner header", () => {
    const err = new ConnectError("elsewhere", Code.FailedPrecondition, {
      "entdb-tenant-owner": "http://10.0.0.6:50051",
    });
    expect(redirectOf(err)).toEqual({ tenant: undefined, url: "http://10.0.0.6:50051" });
  });

  it("is no redirect for a rebalance, another precondition or another error", () => {
    const noOwner = new ConnectError("moving", Code.Unavailable, { "retry-after": "1" }, [
      owner("acme", "", 500),
    ]);
    expect(redirectOf(noOwner)).toBeUndefined();
    expect(redirectOf(new ConnectError("stale version", Code.FailedPrecondition))).toBeUndefined();
    expect(redirectOf(new Error("boom"))).toBeUndefined();
  });
});
