/**
 * A counter and a histogram for the metrics every call updates, read by prom-client's
 * registry like its own, but whose children keep their values themselves.
 *
 * Why: a prom-client child (`counter.labels(…).inc()`, `histogram.labels(…).observe(v)`)
 * finds its values by hashing its labels, validates them and makes a closure, on every
 * call: about 1 % of a small call's CPU. A child here is the values' own object, found
 * once per label set and kept by the caller (routes.ts keeps one per method and code).
 *
 * What `/metrics` shows is what prom-client's `Counter` and `Histogram` show for the
 * same updates, line for line: a label set appears once it was first counted, in that
 * order; a histogram without labels shows its zero buckets from the start; bucket
 * counts are cumulative, then `+Inf`, `_sum` and `_count` (`lean-metrics.test.ts`
 * compares the text of both).
 */

import type { Registry } from "prom-client";

type Labels<T extends string> = Readonly<Record<T, string>>;

/** What the registry reads of one sample. */
interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
  readonly sharedLabels?: Readonly<Record<string, string | number>>;
  readonly exemplar?: null | undefined;
}

/** What a metric gives the registry. */
interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "histogram";
  readonly values: Sample[];
  readonly aggregator: "sum";
}

/** One label set's count. */
export interface CounterChild {
  inc(value?: number): void;
}

/** One label set's observations. */
export interface HistogramChild {
  observe(value: number): void;
}

class CounterValue implements CounterChild {
  readonly labels: Readonly<Record<string, string>>;
  readonly owner: LeanCounter<string>;
  value = 0;
  counted = false;
  constructor(labels: Readonly<Record<string, string>>, owner: LeanCounter<string>) {
    this.labels = labels;
    this.owner = owner;
  }

  inc(value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value))
      throw new TypeError(`A counter only goes up by a finite amount, not ${value}.`);
    if (!this.counted) {
      this.counted = true;
      this.owner.shown.push(this);
    }
    this.value += value;
  }
}

/** A counter whose label sets are bound once ({@link labels}) and counted without lookups. */
export class LeanCounter<T extends string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  /** Label sets counted at least once, in the order they first were. */
  readonly shown: CounterValue[] = [];
  readonly #children = new Map<string, CounterValue>();
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];

  constructor(name: string, help: string, labelNames: readonly T[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as never);
  }

  /** The child of `labels`: the same object for the same labels. */
  labels(labels: Labels<T>): CounterChild {
    const key = this.labelNames.map((n) => labels[n]).join("\u0000");
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new CounterValue(
        { ...labels } as Record<string, string>,
        this as LeanCounter<string>,
      );
      this.#children.set(key, child);
    }
    return child;
  }

  async get(): Promise<MetricData> {
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values: this.shown.map((c) => ({ value: c.value, labels: c.labels })),
      aggregator: this.aggregator,
    };
  }

  /** The label sets counted since the last {@link reset}, with their counts. */
  snapshot(): CounterSnapshot[] {
    return this.shown.map((c) => ({ labels: c.labels, value: c.value }));
  }

  /** As prom-client's: every label set is gone until it is counted again. */
  reset(): void {
    for (const child of this.#children.values()) {
      child.value = 0;
      child.counted = false;
    }
    this.shown.length = 0;
  }
}

/** One label set of a counter and its count (what a serving thread reports, server/threads). */
export interface CounterSnapshot {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One label set of a histogram: its per-bucket counts (not cumulative), sum and count. */
export interface HistogramSnapshot {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

class HistogramValues implements HistogramChild {
  /** Observations per bucket (not cumulative), by the index of its upper bound. */
  readonly counts: Float64Array;
  readonly labels: Readonly<Record<string, string>>;
  readonly owner: LeanHistogram<string>;
  sum = 0;
  count = 0;
  shown: boolean;
  constructor(
    labels: Readonly<Record<string, string>>,
    owner: LeanHistogram<string>,
    shown: boolean,
  ) {
    this.labels = labels;
    this.owner = owner;
    this.counts = new Float64Array(owner.upperBounds.length);
    this.shown = shown;
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (!this.shown) {
      this.shown = true;
      this.owner.shown.push(this);
    }
    const bounds = this.owner.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

/** A histogram whose label sets are bound once ({@link labels}) and observed without lookups. */
export class LeanHistogram<T extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly shown: HistogramValues[] = [];
  readonly #children = new Map<string, HistogramValues>();
  readonly #unlabelled: HistogramValues | undefined;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  readonly upperBounds: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly T[],
    upperBounds: readonly number[],
    registry: Registry,
  ) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.upperBounds = upperBounds;
    // As prom-client's: without labels, its one set of values is shown from the start.
    if (labelNames.length === 0) {
      this.#unlabelled = new HistogramValues({}, this as LeanHistogram<string>, true);
      this.shown.push(this.#unlabelled);
      this.#children.set("", this.#unlabelled);
    }
    registry.registerMetric(this as never);
  }

  /** The child of `labels`: the same object for the same labels. */
  labels(labels: Labels<T>): HistogramChild {
    const key = this.labelNames.map((n) => labels[n]).join("\u0000");
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new HistogramValues(
        { ...labels } as Record<string, string>,
        this as LeanHistogram<string>,
        false,
      );
      this.#children.set(key, child);
    }
    return child;
  }

  /** The label sets observed since the last {@link reset}, with their values. */
  snapshot(): HistogramSnapshot[] {
    return this.shown.map((h) => ({
      labels: h.labels,
      counts: [...h.counts],
      sum: h.sum,
      count: h.count,
    }));
  }

  /** Adds the observations of `from` (another thread's, {@link snapshot}) to its label set here. */
  merge(from: HistogramSnapshot): void {
    const into = this.labels(from.labels as Labels<T>) as HistogramValues;
    if (!into.shown) {
      into.shown = true;
      this.shown.push(into);
    }
    for (let i = 0; i < into.counts.length; i++) (into.counts[i] as number) += from.counts[i] ?? 0;
    into.sum += from.sum;
    into.count += from.count;
  }

  /** Starts timing one observation of the histogram without labels; the result ends it. */
  startTimer(): () => number {
    const values = this.#unlabelled;
    if (values === undefined) throw new Error(`${this.name} has labels: time a child's calls.`);
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      values.observe(seconds);
      return seconds;
    };
  }

  /** Samples as prom-client's histogram gives its text: `le` apart from the set's labels. */
  async getForPromString(): Promise<MetricData> {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const h of this.shown) {
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += h.counts[i] as number;
        values.push({
          labels: { le: this.upperBounds[i] as number },
          sharedLabels: h.labels,
          value: acc,
          metricName: bucket,
          exemplar: null,
        });
      }
      values.push(
        {
          labels: { le: "+Inf" },
          sharedLabels: h.labels,
          value: h.count,
          metricName: bucket,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: h.labels,
          value: h.sum,
          metricName: `${this.name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: h.labels,
          value: h.count,
          metricName: `${this.name}_count`,
          exemplar: undefined,
        },
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /** Samples with each set's labels merged in, as prom-client's `get`. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({
        ...rest,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }

  /** As prom-client's: every label set is gone until it is observed again. */
  reset(): void {
    for (const h of this.#children.values()) {
      h.counts.fill(0);
      h.sum = 0;
      h.count = 0;
      h.shown = false;
    }
    this.shown.length = 0;
  }
}
