/**
 * A `Subscribe` stream catching up on a long history stops reading the log when its call
 * ends: its client leaves after the first message, while the rest of the history selects
 * nothing (so the stream yields nothing the client could stop pulling), and the server
 * reads no further batch; so does one whose deadline passes. Observed through `/metrics`:
 * the log records read back for catch-ups (`entdb_subscribe_history_records_total`) stay
 * well short of the history, and the stream is counted `canceled` (`deadline_exceeded`).
 * Before, the catch-up read every batch to the end.
 * Runs with the server's `ENTDB_SERVE_THREADS` (a serving thread replays streams on the
 * main thread).
 */

import * as http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { entDbClient, metricValue, serverPerFile, TRACKER, teamOp, userOp } from "./e2e-helpers.ts";

const TENANT = "catch-up";
/** Events written after the one the stream selects: several of the log's 256-record batches. */
const HISTORY = 3_000;
const RECORDS = "entdb_subscribe_history_records_total";
const CANCELED = `entdb_requests_total{method="entdb.v1.EntDbService/Subscribe",code="canceled"}`;

const server = serverPerFile();

it("stops reading a long history when its client leaves mid-catch-up", async () => {
  const client = entDbClient(server, { httpVersion: "2", binary: true });
  // One User (the stream selects it), then a history of Teams (which it does not).
  await client.executePlan({
    tenant: TENANT,
    operations: [userOp("ada", "Ada")],
  });
  for (let i = 0; i < HISTORY; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        client.executePlan({ tenant: TENANT, operations: [teamOp(`t${i + j}`, `t${i + j}`)] }),
      ),
    );

  const before = {
    records: await metricValue(server, RECORDS),
    canceled: await metricValue(server, CANCELED),
  };
  const leave = new AbortController();
  const stream = client.subscribe(
    {
      tenant: TENANT,
      fromStart: true,
      filters: [{ kind: { case: "nodeTypeId", value: TRACKER.user } }],
    },
    { signal: leave.signal },
  );
  let first: unknown;
  try {
    for await (const response of stream) {
      first = response;
      leave.abort();
    }
  } catch (err) {
    expect((err as { code?: unknown }).code).toBe(Code.Canceled);
  }
  expect(first).toBeDefined();

  const since = Date.now();
  while ((await metricValue(server, CANCELED)) === before.canceled && Date.now() - since < 10_000)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await metricValue(server, CANCELED)).toBe(before.canceled + 1);
  // The stream was counted when it ended: it read what it had read by then, and no more
  // since. A stream that read to the end would have read the whole history.
  const read = (await metricValue(server, RECORDS)) - before.records;
  expect(read).toBeGreaterThan(0);
  expect(read).toBeLessThan(HISTORY / 2);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect((await metricValue(server, RECORDS)) - before.records).toBe(read);
}, 120_000);

// The history the first test wrote: a stream whose deadline passes while it catches up.
it("stops reading a long history when its deadline passes mid-catch-up, counted deadline_exceeded", async () => {
  const series = `entdb_requests_total{method="entdb.v1.EntDbService/Subscribe",code="deadline_exceeded"}`;
  const before = {
    records: await metricValue(server, RECORDS),
    deadline: await metricValue(server, series),
  };
  // The deadline in the request's header only, so the server ends the call, not the client.
  const session = http2.connect(server.url);
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/entdb.v1.EntDbService/Subscribe",
        "content-type": "application/connect+json",
        "connect-timeout-ms": "1",
      });
      stream.on("error", reject);
      stream.on("close", () => resolve());
      stream.resume();
      const message = Buffer.from(
        JSON.stringify({
          tenant: TENANT,
          fromStart: true,
          filters: [{ nodeTypeId: TRACKER.user }],
        }),
      );
      const head = Buffer.alloc(5);
      head.writeUInt32BE(message.length, 1);
      stream.end(Buffer.concat([head, message]));
    });
  } finally {
    session.close();
  }
  const since = Date.now();
  while ((await metricValue(server, series)) === before.deadline && Date.now() - since < 10_000)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await metricValue(server, series)).toBe(before.deadline + 1);
  expect((await metricValue(server, RECORDS)) - before.records).toBeLessThan(HISTORY / 2);
});
