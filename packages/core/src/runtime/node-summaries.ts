/** Converts the head's cluster view into the public NodeSummary form. */
import type { rayts } from '@samsara/ray-proto';
import type { NodeSummary } from './runtime.js';

export function nodeSummaries(v: rayts.IClusterView): NodeSummary[] {
  return (v.nodes ?? []).map((n) => {
    const t = n.telemetry;
    return {
      nodeId: n.nodeId ?? '',
      address: n.address ?? '',
      alive: !!n.alive,
      isHead: !!n.isHead,
      kind: n.kind || 'worker',
      resources: { ...(n.total ?? {}) },
      available: { ...(n.available ?? {}) },
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
