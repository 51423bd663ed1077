import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@samsara/ray-common';
import { metrics } from '../src/metrics/user-metrics.js';
import { processRegistry } from '../src/metrics/node-metrics.js';

const registry = processRegistry();

describe('metrics (library hook)', () => {
  it('metrics - values land in the process registry under rayts_ names', async () => {
    const c = metrics.counter({ name: 'unit_requests_total', help: 'Requests.', labelNames: ['deployment'] });
    c.inc({ deployment: 'a' });
    c.inc({ deployment: 'a' }, 2);
    metrics.gauge({ name: 'rayts_unit_inflight', help: 'In flight.' }).set(undefined, 5);
    metrics.histogram({ name: 'unit_seconds', help: 'Latency.', buckets: [0.1, 1] }).observe(undefined, 0.5);
    const text = await registry.metrics();
    expect(text).toContain('rayts_unit_requests_total{deployment="a"} 3');
    expect(text).toContain('rayts_unit_inflight 5');
    expect(text).toContain('rayts_unit_seconds_bucket{le="1"} 1');
    // The same name and type again is the same instrument.
    metrics.counter({ name: 'unit_requests_total', help: 'Requests.', labelNames: ['deployment'] }).inc({ deployment: 'a' });
    expect(await registry.metrics()).toContain('rayts_unit_requests_total{deployment="a"} 4');
  });

  it('metrics - histogram.labels() binds one series: its observations land there; its labels are checked once, at binding', async () => {
    const h = metrics.histogram({ name: 'unit_bound_seconds', help: 'Latency.', labelNames: ['app', 'deployment'], buckets: [0.1, 1] });
    const s = h.labels({ app: 'a', deployment: 'd' });
    s.observe(0.05);
    s.observe(0.5);
    h.observe({ app: 'a', deployment: 'd' }, 2);
    const text = await registry.metrics();
    expect(text).toContain('rayts_unit_bound_seconds_bucket{le="0.1",app="a",deployment="d"} 1');
    expect(text).toContain('rayts_unit_bound_seconds_bucket{le="1",app="a",deployment="d"} 2');
    expect(text).toContain('rayts_unit_bound_seconds_count{app="a",deployment="d"} 3');
    expect(() => h.labels({ replica: 'r' })).toThrow(/has no label "replica"/);
    expect(() => s.observe(Number.NaN)).toThrow(InvalidArgumentError);
  });

  it('metrics - bad definitions and values are InvalidArgumentError saying what is wrong', () => {
    expect(() => metrics.counter({ name: 'bad name', help: 'x' })).toThrow(InvalidArgumentError);
    expect(() => metrics.counter({ name: 'ok_total', help: '' })).toThrow(/help text/);
    expect(() => metrics.counter({ name: 'ok_total', help: 'x', colour: 1 } as never)).toThrow(/unknown option "colour"/);
    expect(() => metrics.histogram({ name: 'h_seconds', help: 'x', buckets: [1, 0.5] })).toThrow(/ascending/);
    metrics.counter({ name: 'unit_kind_total', help: 'x' });
    expect(() => metrics.gauge({ name: 'unit_kind_total', help: 'x' })).toThrow(/already a counter/);
    const c = metrics.counter({ name: 'unit_labels_total', help: 'x', labelNames: ['a'] });
    expect(() => c.inc({ b: '1' })).toThrow(/has no label "b"/);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(/non-negative/);
  });
});
