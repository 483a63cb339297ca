import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config-error.ts";
import { InternalError } from "../internal-error.ts";
import { parseLogLevel } from "../log.ts";
import { StoreError } from "../store/store-error.ts";
import { handlerGuardNow, toConnectError } from "./api-errors.ts";

function mapped(err: unknown): { readonly error: ConnectError; readonly logged: unknown[] } {
  const logged: unknown[] = [];
  return { error: toConnectError(err, (e) => logged.push(e)), logged };
}

describe("toConnectError", () => {
  it("answers an InternalError as INTERNAL without its detail, and logs it with its stack", () => {
    const bug = new InternalError("invariant", "applied event 0:7 recorded no outcome");
    const { error, logged } = mapped(bug);
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("Internal error; the server logged the details.");
    expect(logged).toEqual([bug]);
    expect(bug.stack).toMatch(/^InternalError: applied event 0:7 recorded no outcome\n\s+at /);
  });

  it("keeps a store error's mapped code and message, and logs nothing", () => {
    const err = new StoreError("tenant-unavailable", 'Tenant "acme" is down.');
    const { error, logged } = mapped(err);
    expect([error.code, error.rawMessage]).toEqual([Code.Unavailable, 'Tenant "acme" is down.']);
    expect(logged).toEqual([]);
  });

  it("answers a corrupt store as INTERNAL and logs it", () => {
    const err = new StoreError("corrupt", "the file has no tenant_state row");
    const { error, logged } = mapped(err);
    expect(error.code).toBe(Code.Internal);
    expect(logged).toEqual([err]);
  });
});

describe("handlerGuardNow", () => {
  it("returns a body's answer as it is, throws its error mapped, and maps a promise's rejection", async () => {
    const logged: unknown[] = [];
    const guard = handlerGuardNow((e) => logged.push(e));
    const answer = { node: "n1" };
    expect(guard(() => answer)).toBe(answer);

    const down = new StoreError("tenant-unavailable", 'Tenant "acme" is down.');
    let thrown: unknown;
    try {
      guard(() => {
        throw down;
      });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConnectError);
    expect([(thrown as ConnectError).code, (thrown as ConnectError).rawMessage]).toEqual([
      Code.Unavailable,
      'Tenant "acme" is down.',
    ]);

    const waited = guard(() => Promise.resolve(answer));
    expect(waited).toBeInstanceOf(Promise);
    expect(await waited).toBe(answer);
    await expect(guard(() => Promise.reject(down))).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: 'Tenant "acme" is down.',
    });
    const bug = new Error("a bug");
    await expect(guard(() => Promise.reject(bug))).rejects.toMatchObject({ code: Code.Internal });
    expect(logged).toEqual([bug]);
  });
});

describe("parseLogLevel", () => {
  it("refuses an unknown level with a ConfigError that lists the levels", () => {
    expect(parseLogLevel("WARN")).toBe("warn");
    expect(() => parseLogLevel("loud")).toThrow(
      new ConfigError("Unknown log level 'loud'; use debug, info, warn or error."),
    );
    expect(() => parseLogLevel("loud")).toThrow(ConfigError);
  });
});
