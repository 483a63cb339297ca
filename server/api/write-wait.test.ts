/**
 * {@link appendWithin}: a write's append ended by its call's deadline or its client
 * leaving, with the code and a message that the write may have been logged, its key
 * named; the shutdown does not end it; the append's own end is reported either way.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { appendWithin } from "./write-wait.ts";

/** An append that ends when the test says. */
function pendingAppend() {
  let resolve!: (value: string) => void;
  const append = new Promise<string>((r) => {
    resolve = r;
  });
  return { append, resolve };
}

describe("appendWithin", () => {
  it("ends at the call's deadline, saying the write may have been logged, and reports the append's later end", async () => {
    const { append, resolve } = pendingAppend();
    const call = new AbortController();
    let settled = 0;
    const ended = appendWithin(append, call.signal, "acme", "k-1", () => settled++);
    call.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    const err = await ended.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect((err as ConnectError).rawMessage).toBe(
      "The call's deadline passed before the log acknowledged the write for tenant 'acme'; it may have been logged, and then it will be applied. Send it again with idempotency key 'k-1' (it is answered its outcome, never applied twice).",
    );
    expect(settled).toBe(0);
    resolve("logged");
    await append;
    expect(settled).toBe(1);
  });

  it("ends CANCELED when the client leaves, also when it left before the append", async () => {
    const call = new AbortController();
    call.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    const err = await appendWithin(
      pendingAppend().append,
      call.signal,
      "acme",
      "k-2",
      undefined,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ConnectError).code).toBe(Code.Canceled);
    expect((err as ConnectError).rawMessage).toMatch(
      /^The client went away before the log acknowledged the write for tenant 'acme'; it may have been logged.*idempotency key 'k-2'/,
    );
  });

  it("waits on through the shutdown: a write received before it still answers its outcome", async () => {
    const { append, resolve } = pendingAppend();
    const call = new AbortController();
    let settled = 0;
    const ended = appendWithin(append, call.signal, "acme", "k-3", () => settled++);
    call.abort(new ConnectError("the server is shutting down", Code.Unavailable));
    resolve("logged");
    expect(await ended).toBe("logged");
    expect(settled).toBe(1);
  });

  it("passes the append's own failure on", async () => {
    const call = new AbortController();
    const failure = new Error("the log is unavailable");
    let settled = 0;
    const err = await appendWithin(
      Promise.reject(failure),
      call.signal,
      "acme",
      "k-4",
      () => settled++,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(failure);
    expect(settled).toBe(1);
  });
});
