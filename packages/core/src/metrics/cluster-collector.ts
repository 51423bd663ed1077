/**
 * Cluster gauges the head computes at scrape time from its own state: nodes, tasks, actors, placement
 * groups and jobs by state, and per node its resources, object store and telemetry (load, memory,
 * temperature: the dash cams report theirs through their tunnels). Names start `rayts_cluster_`;
 * they describe the whole cluster, where the `rayts_node_…` ones describe the process serving them.
 */
import type { Gauge, Registry } from 'prom-client';
import type { HeadServer } from '../head/head-server.js';
import type { NodeRecord } from '../head/node-table.js';
import { scrapedGauge } from './node-collector.js';

type Fill = (g: Gauge, head: HeadServer) => void;

function nodeLabels(n: NodeRecord): { node_id: string; kind: string } {
  return { node_id: n.nodeId, kind: n.kind || (n.isHead ? 'head' : 'worker') };
}

const GAUGES: [name: string, help: string, labels: string[], fill: Fill][] = [
  ['rayts_cluster_nodes', 'Nodes the head knows, by kind (head | worker | edge) and state (alive | dead).', ['kind', 'state'], (g, h) => {
    for (const n of h.nodes.all()) g.inc({ kind: nodeLabels(n).kind, state: n.alive ? 'alive' : 'dead' });
  }],
  ['rayts_cluster_tasks', 'Recent tasks by their latest state (PENDING | RUNNING | FINISHED | FAILED | RETRYING | CANCELLED), from task events.', ['state'], (g, h) => {
    for (const [state, n] of Object.entries(h.tasks.countByState())) g.set({ state }, n);
  }],
  ['rayts_cluster_actors', 'Actors by state (PENDING | ALIVE | RESTARTING | DEAD).', ['state'], (g, h) => {
    for (const a of h.actors.list()) g.inc({ state: a.state });
  }],
  ['rayts_cluster_actor_restarts', 'Restarts of the actors the head knows, summed.', [], (g, h) => {
    g.set(h.actors.list().reduce((s, a) => s + (a.numRestarts ?? 0), 0));
  }],
  ['rayts_cluster_placement_groups', 'Placement groups by state (PENDING | CREATED | REMOVED).', ['state'], (g, h) => {
    for (const p of h.placementGroups.list()) g.inc({ state: p.state ?? '' });
  }],
  ['rayts_cluster_jobs', 'Jobs by type (DRIVER | SUBMISSION) and state.', ['type', 'state'], (g, h) => {
    for (const j of h.submissions.list(h.jobs.values())) g.inc({ type: j.type || 'DRIVER', state: j.state ?? '' });
  }],
  ['rayts_cluster_node_resource_total', 'Resources each alive node offers.', ['node_id', 'kind', 'resource'], (g, h) => {
    for (const n of h.nodes.all()) if (n.alive) for (const [r, v] of Object.entries(n.total)) g.set({ ...nodeLabels(n), resource: r }, v);
  }],
  ['rayts_cluster_node_resource_used', 'Resources in use on each alive node (total minus available).', ['node_id', 'kind', 'resource'], (g, h) => {
    for (const n of h.nodes.all()) if (n.alive) for (const [r, v] of Object.entries(n.total)) g.set({ ...nodeLabels(n), resource: r }, v - (n.available[r] ?? 0));
  }],
  ['rayts_cluster_node_tasks', 'Tasks queued and running on each alive node, as last reported.', ['node_id', 'kind', 'state'], (g, h) => {
    for (const n of h.nodes.all()) {
      if (!n.alive) continue;
      g.set({ ...nodeLabels(n), state: 'queued' }, n.queuedTasks);
      g.set({ ...nodeLabels(n), state: 'running' }, n.runningTasks);
    }
  }],
  ['rayts_cluster_object_store_used_bytes', 'Object store bytes in use on each alive node.', ['node_id', 'kind'], (g, h) => storeGauge(g, h, 'usedBytes')],
  ['rayts_cluster_object_store_capacity_bytes', 'Object store capacity of each alive node.', ['node_id', 'kind'], (g, h) => storeGauge(g, h, 'capacityBytes')],
  ['rayts_cluster_object_store_spilled_bytes', 'Bytes spilled to disk on each alive node.', ['node_id', 'kind'], (g, h) => storeGauge(g, h, 'spilledBytes')],
  ['rayts_cluster_object_store_objects', 'Objects stored on each alive node.', ['node_id', 'kind'], (g, h) => storeGauge(g, h, 'numObjects')],
  ['rayts_cluster_node_cpu_load', '1-minute load average per core of each alive node (edge cameras included).', ['node_id', 'kind'], (g, h) => telemetryGauge(g, h, 'cpuLoad')],
  ['rayts_cluster_node_memory_used_bytes', 'Host memory in use on each alive node.', ['node_id', 'kind'], (g, h) => telemetryGauge(g, h, 'memUsedBytes')],
  ['rayts_cluster_node_memory_total_bytes', 'Host memory of each alive node.', ['node_id', 'kind'], (g, h) => telemetryGauge(g, h, 'memTotalBytes')],
  ['rayts_cluster_node_rss_bytes', 'Resident memory of the rayts process on each alive node.', ['node_id', 'kind'], (g, h) => telemetryGauge(g, h, 'rssBytes')],
  ['rayts_cluster_node_temperature_celsius', 'Hottest thermal zone of each alive node; absent where the device has none.', ['node_id', 'kind'], (g, h) => {
    for (const n of h.nodes.all()) if (n.alive && n.telemetry?.hasTemperature) g.set(nodeLabels(n), n.telemetry.temperatureC ?? 0);
  }],
  ['rayts_cluster_node_heartbeat_age_seconds', 'Seconds since each alive node last reported.', ['node_id', 'kind'], (g, h) => {
    const now = Date.now();
    for (const n of h.nodes.all()) if (n.alive) g.set(nodeLabels(n), Math.max(0, (now - n.lastHeartbeatMs) / 1000));
  }],
];

function storeGauge(g: Gauge, h: HeadServer, k: 'usedBytes' | 'capacityBytes' | 'spilledBytes' | 'numObjects'): void {
  for (const n of h.nodes.all()) if (n.alive && n.store) g.set(nodeLabels(n), Number(n.store[k] ?? 0));
}

function telemetryGauge(g: Gauge, h: HeadServer, k: 'cpuLoad' | 'memUsedBytes' | 'memTotalBytes' | 'rssBytes'): void {
  for (const n of h.nodes.all()) if (n.alive && n.telemetry) g.set(nodeLabels(n), Number(n.telemetry[k] ?? 0));
}

/** Registers the head's cluster gauges in `registry`; they read `head` at each scrape. */
export function registerClusterMetrics(registry: Registry, head: HeadServer): void {
  for (const [name, help, labelNames, fill] of GAUGES) scrapedGauge(registry, name, help, labelNames, (g) => fill(g, head));
}
