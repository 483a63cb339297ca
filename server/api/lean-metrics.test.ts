/**
 * The lean counter and histogram (lean-metrics.ts) give `/metrics` the same text as
 * prom-client's `Counter` and `Histogram` after the same updates.
 */

import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LeanCounter, LeanHistogram } from "./lean-metrics.ts";

const BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Both kinds of each metric, each in its own registry. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const counter = {
    theirs: new Counter({
      name: "x_requests_total",
      help: "Calls, by method and code.",
      labelNames: ["method", "code"] as const,
      registers: [theirs],
    }),
    ours: new LeanCounter(
      "x_requests_total",
      "Calls, by method and code.",
      ["method", "code"],
      ours,
    ),
  };
  const histogram = {
    theirs: new Histogram({
      name: "x_seconds",
      help: "Latency, by method.",
      labelNames: ["method"] as const,
      buckets: BUCKETS,
      registers: [theirs],
    }),
    ours: new LeanHistogram("x_seconds", "Latency, by method.", ["method"], BUCKETS, ours),
  };
  const plain = {
    theirs: new Histogram({
      name: "x_append_seconds",
      help: "Append latency.",
      buckets: BUCKETS,
      registers: [theirs],
    }),
    ours: new LeanHistogram("x_append_seconds", "Append latency.", [], BUCKETS, ours),
  };
  return { theirs, ours, counter, histogram, plain };
}

const update = fc.oneof(
  fc.record({
    kind: fc.constant("count" as const),
    method: fc.constantFrom("a.S/Get", "a.S/Put", 'b.T/"odd"\\'),
    code: fc.constantFrom("ok", "NotFound", "InvalidArgument"),
  }),
  fc.record({
    kind: fc.constant("observe" as const),
    method: fc.constantFrom("a.S/Get", "a.S/Put"),
    seconds: fc.oneof(
      fc.double({ min: 0, max: 5, noNaN: true }),
      fc.constantFrom(...BUCKETS),
      fc.constant(0),
    ),
  }),
  fc.record({
    kind: fc.constant("append" as const),
    seconds: fc.double({ min: 0, max: 3, noNaN: true }),
  }),
);

describe("lean metrics", () => {
  it("show what prom-client's show after the same updates, from none on", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(update, { maxLength: 60 }), async (updates) => {
        const m = both();
        expect(await m.ours.metrics()).toBe(await m.theirs.metrics());
        for (const u of updates) {
          if (u.kind === "count") {
            m.counter.theirs.labels({ method: u.method, code: u.code }).inc();
            m.counter.ours.labels({ method: u.method, code: u.code }).inc();
          } else if (u.kind === "observe") {
            m.histogram.theirs.labels({ method: u.method }).observe(u.seconds);
            m.histogram.ours.labels({ method: u.method }).observe(u.seconds);
          } else {
            m.plain.theirs.observe(u.seconds);
            m.plain.ours.labels({}).observe(u.seconds);
          }
        }
        expect(await m.ours.metrics()).toBe(await m.theirs.metrics());
        expect(await m.ours.getMetricsAsJSON()).toEqual(await m.theirs.getMetricsAsJSON());
      }),
      { numRuns: 100 },
    );
  });

  it("time an unlabelled histogram's observations", async () => {
    const registry = new Registry();
    const h = new LeanHistogram("t_seconds", "Timed.", [], BUCKETS, registry);
    const end = h.startTimer();
    const seconds = end();
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(1);
    const text = await registry.metrics();
    expect(text).toContain('t_seconds_bucket{le="+Inf"} 1');
    expect(text).toContain("t_seconds_count 1");
    const labelled = new LeanHistogram("u_seconds", "Labelled.", ["method"], BUCKETS, registry);
    expect(() => labelled.startTimer()).toThrow("u_seconds has labels");
  });

  it("count the same child for the same labels, and refuse a count that goes down", () => {
    const c = new LeanCounter("c_total", "Counted.", ["method"], new Registry());
    expect(c.labels({ method: "m" })).toBe(c.labels({ method: "m" }));
    expect(() => c.labels({ method: "m" }).inc(-1)).toThrow(TypeError);
  });
});
