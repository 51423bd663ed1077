/** Converts the head's cluster view into the public NodeSummary form. */
import type { rayts } from '@samsara/ray-proto';
import { splitNodeResources } from '@samsara/ray-scheduler';
import type { NodeSummary } from './runtime.js';

export function nodeSummaries(v: rayts.IClusterView): NodeSummary[] {
  return (v.nodes ?? []).map((n) => {
    const t = n.telemetry;
    const r = splitNodeResources(n.total ?? {}, n.available ?? {});
    return {
      nodeId: n.nodeId ?? '',
      address: n.address ?? '',
      alive: !!n.alive,
      isHead: !!n.isHead,
      kind: n.kind || 'worker',
      resources: r.resources,
      available: r.available,
      bundles: r.bundles,
      labels: { ...(n.labels ?? {}) },
      hostname: n.hostname ?? '',
      pid: n.pid ?? 0,
      telemetry: t
        ? {
            cpuLoad: t.cpuLoad ?? 0,
            memUsedBytes: t.memUsedBytes ?? 0,
            memTotalBytes: t.memTotalBytes ?? 0,
            ...(t.hasTemperature ? { temperatureC: t.temperatureC ?? 0 } : {}),
          }
        : undefined,
      deathReason: n.deathReason || undefined,
    };
  });
}
