/**
 * `metrics`: the public hook through which libraries and user code add their own series to the
 * `/metrics` of the node they run on (Serve counts requests per deployment from inside its replicas).
 *
 * In a node's main thread the values go straight into the process registry. Tasks and actors run in
 * worker threads of the node daemon: there the helper batches updates and posts them every 100 ms on a
 * BroadcastChannel that the node's main thread listens on ({@link startUserMetricsSink}), so they
 * appear on that node's `/metrics` (the head's for the head node). In a driver process the values stay
 * in the driver's registry: drivers serve no /metrics.
 *
 * Names get the `rayts_` prefix when they lack it. Defining a name again with the same type returns the
 * same instrument (every replica of a deployment shares one); with another type it is an error.
 *
 * @example
 * import { metrics } from '@samsara/ray';
 * const requests = metrics.counter({ name: 'serve_requests_total', help: 'Requests per deployment.', labelNames: ['deployment'] });
 * requests.inc({ deployment: 'detector' });
 * const latency = metrics.histogram({ name: 'serve_request_seconds', help: 'Latency.', labelNames: ['deployment'], buckets: [0.01, 0.1, 1] });
 * latency.observe({ deployment: 'detector' }, 0.023);
 */
import { BroadcastChannel, isMainThread } from 'node:worker_threads';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { InvalidArgumentError } from '@samsara/ray-common';
import { processRegistry } from './node-metrics.js';

const CHANNEL = 'rayts:user-metrics';
const FLUSH_MS = 100;
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values of one series: keys among the instrument's `labelNames`. */
export type MetricLabels = Readonly<Record<string, string | number>>;

/** Options of {@link metrics}`.counter/gauge/histogram`. */
export interface MetricOptions {
  /** Metric name; `rayts_` is prepended when missing. Letters, digits, `_` and `:`. */
  readonly name: string;
  /** One line saying what it counts (shown by Prometheus). */
  readonly help: string;
  /** Names of the labels its series carry [none]. */
  readonly labelNames?: readonly string[];
}

/** Options of a histogram: {@link MetricOptions} plus bucket bounds. */
export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the buckets, ascending [prom-client's defaults: 0.005 … 10]. */
  readonly buckets?: readonly number[];
}

/** A monotonically increasing count. */
export interface UserCounter {
  /** Adds `value` (default 1, must be ≥ 0) to the series with these labels. */
  inc(labels?: MetricLabels, value?: number): void;
}
/** A value that goes up and down. */
export interface UserGauge {
  set(labels: MetricLabels | undefined, value: number): void;
  inc(labels?: MetricLabels, value?: number): void;
  dec(labels?: MetricLabels, value?: number): void;
}
/** A distribution of observed values. */
export interface UserHistogram {
  observe(labels: MetricLabels | undefined, value: number): void;
  /**
   * The series with these labels, checked once: its `observe(value)` skips the label checks, and in a
   * worker thread its values since the last batch travel as one update (for per-request paths).
   */
  labels(labels?: MetricLabels): BoundHistogram;
}
/** One series of a histogram (from {@link UserHistogram.labels}). */
export interface BoundHistogram {
  observe(value: number): void;
}

type Kind = 'counter' | 'gauge' | 'histogram';
interface Def {
  name: string;
  kind: Kind;
  help: string;
  labelNames: string[];
  buckets?: number[];
}
/** One update; an `observe` may carry several values of one series (a bound histogram's batch). */
type Op = [name: string, op: 'inc' | 'set' | 'dec' | 'observe', labels: Record<string, string>, value: number | number[]];
interface Batch {
  defs: Def[];
  ops: Op[];
}

const defs = new Map<string, Def>();

const KEYS: Record<Kind, string[]> = {
  counter: ['name', 'help', 'labelNames'],
  gauge: ['name', 'help', 'labelNames'],
  histogram: ['name', 'help', 'labelNames', 'buckets'],
};

function define(kind: Kind, o: HistogramOptions): Def {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError(`metrics.${kind}: options must be an object with name and help.`);
  const unknown = Object.keys(o).filter((k) => !KEYS[kind].includes(k));
  if (unknown.length) throw new InvalidArgumentError(`metrics.${kind}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid: ${KEYS[kind].join(', ')}.`);
  if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) {
    throw new InvalidArgumentError(`metrics.${kind}: name ${JSON.stringify(o.name)} is not a Prometheus metric name.`, { hint: 'Use letters, digits and underscores, e.g. serve_requests_total.' });
  }
  if (typeof o.help !== 'string' || !o.help.trim()) throw new InvalidArgumentError(`metrics.${kind}: ${o.name} needs a help text saying what it measures.`);
  const labelNames = [...(o.labelNames ?? [])];
  for (const l of labelNames) {
    if (typeof l !== 'string' || !LABEL_RE.test(l) || l.startsWith('__')) throw new InvalidArgumentError(`metrics.${kind}: label name ${JSON.stringify(l)} of ${o.name} is not valid.`);
  }
  let buckets: number[] | undefined;
  if (o.buckets !== undefined) {
    buckets = [...o.buckets];
    if (!buckets.length || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets![i - 1]))) {
      throw new InvalidArgumentError(`metrics.histogram: buckets of ${o.name} must be finite numbers in ascending order.`);
    }
  }
  const name = o.name.startsWith('rayts_') ? o.name : `rayts_${o.name}`;
  const prev = defs.get(name);
  if (prev) {
    if (prev.kind !== kind) throw new InvalidArgumentError(`metrics.${kind}: ${name} is already a ${prev.kind}.`, { hint: 'Give each metric one type and one name.' });
    return prev;
  }
  const d: Def = { name, kind, help: o.help, labelNames, ...(buckets ? { buckets } : {}) };
  defs.set(name, d);
  return d;
}

function labelsOf(d: Def, labels: MetricLabels | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!d.labelNames.includes(k)) throw new InvalidArgumentError(`${d.name} has no label ${JSON.stringify(k)}; its labels: ${d.labelNames.join(', ') || 'none'}.`);
    out[k] = String(v);
  }
  return out;
}

function num(d: Def, v: number, nonNegative = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (nonNegative && v < 0)) {
    throw new InvalidArgumentError(`${d.name}: value ${String(v)} is not a ${nonNegative ? 'non-negative ' : ''}finite number.`);
  }
  return v;
}

// ---- where values go ------------------------------------------------------------------------------

type Instrument = Counter | Gauge | Histogram;

/** Applies definitions and operations to a registry (the node's main thread). */
class RegistrySink {
  private readonly instruments = new Map<string, { kind: Kind; m: Instrument }>();
  constructor(private readonly registry: Registry) {}

  ensure(d: Def): Instrument | undefined {
    const have = this.instruments.get(d.name);
    if (have) return have.kind === d.kind ? have.m : undefined;
    if (this.registry.getSingleMetric(d.name)) return undefined; // a runtime metric of that name
    const base = { name: d.name, help: d.help, labelNames: d.labelNames, registers: [this.registry] };
    const m = d.kind === 'counter' ? new Counter(base) : d.kind === 'gauge' ? new Gauge(base) : new Histogram({ ...base, ...(d.buckets ? { buckets: d.buckets } : {}) });
    this.instruments.set(d.name, { kind: d.kind, m });
    return m;
  }

  apply(op: Op): void {
    const entry = this.instruments.get(op[0]);
    if (!entry) return;
    const [, kind, labels, v] = op;
    const m = entry.m as Gauge & Counter & Histogram;
    if (Array.isArray(v)) {
      if (kind !== 'observe') return;
      // One series: its labels hashed once, not per value.
      const series = (entry.m as Histogram).labels(labels);
      for (const x of v) if (typeof x === 'number') series.observe(x);
      return;
    }
    if (kind === 'observe') m.observe(labels, v);
    else if (kind === 'set') m.set(labels, v);
    else if (kind === 'dec') m.dec(labels, v);
    else m.inc(labels, v);
  }

  batch(b: Batch): void {
    for (const d of b.defs) this.ensure(d);
    for (const op of b.ops) this.apply(op);
  }
}

const local = new RegistrySink(processRegistry());
let pending: Batch | undefined;
let pendingDefs = new Set<string>();
let channel: BroadcastChannel | undefined;
let timer: NodeJS.Timeout | undefined;

/** A histogram series bound by labels(): its values since the last batch (worker threads). */
interface BoundSeries {
  readonly d: Def;
  readonly labels: Record<string, string>;
  values: number[] | undefined;
}
/** Bound series holding values for the next batch. */
let boundPending: BoundSeries[] = [];
/** Values held by bound series (they count toward a batch's size). */
let boundValues = 0;

/** Adds the def to the pending batch (once per batch). */
function pendingBatch(d: Def): Batch {
  pending ??= { defs: [], ops: [] };
  if (!pendingDefs.has(d.name)) {
    pendingDefs.add(d.name);
    pending.defs.push(d);
  }
  return pending;
}

function scheduleFlush(size: number): void {
  if (size >= 1000) flush();
  else if (!timer) {
    timer = setTimeout(flush, FLUSH_MS);
    timer.unref();
  }
}

function flush(): void {
  timer = undefined;
  if (!pending) return;
  for (const s of boundPending) {
    pending.ops.push([s.d.name, 'observe', s.labels, s.values!]);
    s.values = undefined;
  }
  boundPending = [];
  boundValues = 0;
  const b = pending;
  pending = undefined;
  pendingDefs = new Set();
  channel ??= new BroadcastChannel(CHANNEL);
  (channel as unknown as { unref?: () => void }).unref?.();
  channel.postMessage(b);
}

function record(d: Def, op: Op): void {
  if (isMainThread) {
    local.ensure(d);
    local.apply(op);
    return;
  }
  const b = pendingBatch(d);
  b.ops.push(op);
  scheduleFlush(b.ops.length + boundValues);
}

/** One observation of a bound series: in a worker thread, added to the series' values for the next batch. */
function observeBound(s: BoundSeries, v: number): void {
  if (isMainThread) {
    record(s.d, [s.d.name, 'observe', s.labels, v]);
    return;
  }
  const b = pendingBatch(s.d);
  if (!s.values) {
    s.values = [];
    boundPending.push(s);
  }
  s.values.push(v);
  boundValues++;
  scheduleFlush(b.ops.length + boundValues);
}

/**
 * Starts applying what worker threads of this process publish to the process registry (called by a
 * process that runs a node). Returns a function that stops it.
 */
export function startUserMetricsSink(): () => void {
  const ch = new BroadcastChannel(CHANNEL);
  (ch as unknown as { unref?: () => void }).unref?.();
  ch.onmessage = (ev: unknown) => {
    try {
      const b = (ev as { data: Batch }).data;
      if (b && Array.isArray(b.defs) && Array.isArray(b.ops)) local.batch(b);
    } catch {
      /* a bad update must not break the node: it is dropped */
    }
  };
  return () => ch.close();
}

/** Creates (or returns) library/user metrics published on the `/metrics` of the node this code runs on. */
export const metrics = Object.freeze({
  /** A counter: `inc(labels?, value = 1)`. */
  counter(o: MetricOptions): UserCounter {
    const d = define('counter', o);
    return { inc: (labels, value = 1) => record(d, [d.name, 'inc', labelsOf(d, labels), num(d, value, true)]) };
  },
  /** A gauge: `set(labels, value)`, `inc`, `dec`. */
  gauge(o: MetricOptions): UserGauge {
    const d = define('gauge', o);
    return {
      set: (labels, value) => record(d, [d.name, 'set', labelsOf(d, labels), num(d, value)]),
      inc: (labels, value = 1) => record(d, [d.name, 'inc', labelsOf(d, labels), num(d, value)]),
      dec: (labels, value = 1) => record(d, [d.name, 'dec', labelsOf(d, labels), num(d, value)]),
    };
  },
  /** A histogram: `observe(labels, value)`. */
  histogram(o: HistogramOptions): UserHistogram {
    const d = define('histogram', o);
    return {
      observe: (labels, value) => record(d, [d.name, 'observe', labelsOf(d, labels), num(d, value)]),
      labels: (labels) => {
        const s: BoundSeries = { d, labels: labelsOf(d, labels), values: undefined };
        return { observe: (value) => observeBound(s, num(d, value)) };
      },
    };
  },
});
