/**
 * Node gauges computed at scrape time from the node daemon's state: tasks queued/running, hosted
 * actors, object store use, and resources used/total. Registered once per process; the daemons of the
 * process (one in practice) add themselves as sources and are labelled by `node_id`.
 */
import type { Gauge, Registry } from 'prom-client';
import type { ResourceMap } from '@samsara/ray-common';
import { onProcessRegistry, promClient } from './node-metrics.js';

/** What a node exposes to the collector (NodeDaemon implements it). */
export interface NodeMetricsSource {
  readonly nodeId: string;
  tasks(): { queued: number; running: number };
  actors(): Record<string, number>;
  store(): { usedBytes: number; capacityBytes: number; spilledBytes: number; numObjects: number; numSpilled: number };
  resources(): { total: ResourceMap; available: ResourceMap };
}

const sources = new Set<NodeMetricsSource>();
let registered = false;

function gaugeIn(registry: Registry, name: string, help: string, labelNames: string[], fill: (g: Gauge, s: NodeMetricsSource) => void): void {
  scrapedGauge(registry, name, help, labelNames, (g) => {
    for (const s of sources) if (s.nodeId) fill(g, s);
  });
}

/**
 * A gauge filled afresh at each scrape: reset, then `fill` sets its values. A value that is not a finite
 * number (a field a source lacks) is left out rather than published as NaN (see finiteOnly).
 */
export function scrapedGauge(reg: Registry, name: string, help: string, labelNames: string[], fill: (g: Gauge) => void): void {
  new (promClient().Gauge)({
    name,
    help,
    labelNames,
    registers: [reg],
    collect() {
      this.reset();
      fill(finiteOnly(this));
    },
  });
}

/** `g` whose `set` skips values that are not finite numbers. */
export function finiteOnly(g: Gauge): Gauge {
  return new Proxy(g, {
    get(target, prop, receiver) {
      if (prop === 'set') {
        return (labels: unknown, value?: number) => {
          const v = typeof labels === 'number' ? labels : value;
          if (typeof v === 'number' && Number.isFinite(v)) (target.set as (...a: unknown[]) => void).call(target, labels, value);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

function register(): void {
  if (registered) return;
  registered = true;
  // Made with the process registry (the first scrape, or anything counted): a node that is never
  // scraped (an edge agent) does not load prom-client for them.
  onProcessRegistry(registerGauges);
}

function registerGauges(reg: Registry): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: NodeMetricsSource) => void) => gaugeIn(reg, name, help, labelNames, fill);
  gauge('rayts_node_tasks', 'Tasks on this node now, by state (queued | running).', ['node_id', 'state'], (g, s) => {
    const t = s.tasks();
    g.set({ node_id: s.nodeId, state: 'queued' }, t.queued);
    g.set({ node_id: s.nodeId, state: 'running' }, t.running);
  });
  gauge('rayts_node_actors', 'Actors hosted on this node now, by state (creating | alive).', ['node_id', 'state'], (g, s) => {
    for (const [state, n] of Object.entries(s.actors())) g.set({ node_id: s.nodeId, state }, n);
  });
  gauge('rayts_object_store_used_bytes', 'Bytes of the shared-memory object store in use.', ['node_id'], (g, s) => g.set({ node_id: s.nodeId }, s.store().usedBytes));
  gauge('rayts_object_store_capacity_bytes', 'Capacity of the shared-memory object store.', ['node_id'], (g, s) => g.set({ node_id: s.nodeId }, s.store().capacityBytes));
  gauge('rayts_object_store_spilled_bytes', 'Bytes of objects spilled to disk now.', ['node_id'], (g, s) => g.set({ node_id: s.nodeId }, s.store().spilledBytes));
  gauge('rayts_object_store_objects', 'Objects held by the store (in memory or spilled).', ['node_id'], (g, s) => g.set({ node_id: s.nodeId }, s.store().numObjects));
  gauge('rayts_object_store_spilled_objects', 'Objects spilled to disk now.', ['node_id'], (g, s) => g.set({ node_id: s.nodeId }, s.store().numSpilled));
  gauge('rayts_node_resource_total', 'Resources this node offers, by resource name.', ['node_id', 'resource'], (g, s) => {
    for (const [k, v] of Object.entries(s.resources().total)) g.set({ node_id: s.nodeId, resource: k }, v);
  });
  gauge('rayts_node_resource_used', 'Resources in use on this node, by resource name.', ['node_id', 'resource'], (g, s) => {
    const r = s.resources();
    for (const [k, v] of Object.entries(r.total)) g.set({ node_id: s.nodeId, resource: k }, v - (r.available[k] ?? 0));
  });
}

/** Adds a node to /metrics; the returned function removes it (the node stopped). */
export function addNodeMetricsSource(s: NodeMetricsSource): () => void {
  register();
  sources.add(s);
  return () => sources.delete(s);
}
