/**
 * Placement groups on a CLI cluster (a head with 2 CPUs, a worker with 2 CPUs and a camera), as a Ray
 * user sees them: nodes() / clusterResources() / availableResources(), `rayts status`, `rayts list nodes`
 * and the dashboard report node capacity with bundles apart (never the internal `CPU_group_…` names);
 * removePlacementGroup() resolves once the bundle's resources are back in the node's pool; pending groups
 * are placed first come, first served (a group that could never fit is skipped).
 */
import { describe, expect, it } from 'vitest';
import {
  actor,
  get,
  nodes,
  clusterResources,
  availableResources,
  placementGroup,
  removePlacementGroup,
  ActorDiedError,
  type NodeSummary,
  type PlacementGroup,
} from '@samsara/ray';
import { freePort, until, useCliCluster } from './helpers/cli-cluster.js';

const dashboardPort = await freePort();
const env = useCliCluster({ numCpus: 2, flags: ['--dashboard-port', String(dashboardPort)] }, [{ numCpus: 2, resources: { camera: 1 } }]);

const Holder = actor(
  class Holder {
    ping() {
      return 'pong';
    }
    // A slow graceful end: removal must wait for it before the resources count as free.
    async __rayShutdown__() {
      await new Promise((r) => setTimeout(r, 300));
    }
  },
);

function groupKeys(m: Readonly<Record<string, number>>): string[] {
  return Object.keys(m).filter((k) => k.includes('_group_'));
}

function bundlesOf(ns: readonly NodeSummary[], pg: PlacementGroup) {
  return ns
    .flatMap((n) => n.bundles.filter((b) => b.pgId === pg.id).map((b) => ({ ...b, nodeId: n.nodeId })))
    .sort((a, b) => a.bundleIndex - b.bundleIndex);
}

async function groupStates(): Promise<Record<string, string>> {
  const r = await env.cluster.cli(['list', 'placement-groups', '--json']);
  return Object.fromEntries((JSON.parse(r.stdout) as { name: string; state: string }[]).map((g) => [g.name, g.state]));
}

describe('placement groups - what users see', () => {
  it('resources - nodes() and friends show capacity and free outside groups; bundles apart with their use', async () => {
    const pg = placementGroup([{ CPU: 1 }, { camera: 1 }], { name: 'view' });
    await pg.ready(20_000);
    const h = Holder.options({ placementGroup: pg, bundleIndex: 0, numCpus: 1 }).remote();
    expect(await get(h.ping.remote())).toBe('pong');
    await until(async () => bundlesOf(await nodes(), pg)[0]?.available.CPU === 0, 'the bundle in use in the node report');

    const ns = await nodes();
    for (const n of ns) {
      expect(groupKeys(n.resources)).toEqual([]);
      expect(groupKeys(n.available)).toEqual([]);
    }
    const cam = ns.find((n) => n.resources.camera === 1)!;
    expect(cam.resources.CPU).toBe(2);
    expect(await clusterResources()).toMatchObject({ CPU: 4, camera: 1 });
    const avail = await availableResources();
    expect(groupKeys(avail)).toEqual([]);
    expect(avail).toMatchObject({ CPU: 3, camera: 0 });
    expect(bundlesOf(ns, pg).map((b) => [b.bundleIndex, b.resources, b.available])).toEqual([
      [0, { CPU: 1 }, { CPU: 0 }],
      [1, { camera: 1 }, { camera: 1 }],
    ]);

    const status = await env.cluster.cli(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('_group_');
    expect(status.stdout).toMatch(/Resources \(used\/total\): CPU 1\/4,.*camera 1\/1.* \(in 2 bundles: CPU 1\/1, camera 0\/1\)/);
    const listed = await env.cluster.cli(['list', 'nodes', '--json']);
    expect(listed.stdout).not.toContain('_group_');
    const rows = JSON.parse(listed.stdout) as { total: Record<string, number>; bundles: { pgId: string }[] }[];
    expect(rows.reduce((s, r) => s + (r.total.CPU ?? 0), 0)).toBe(4);
    expect(rows.flatMap((r) => r.bundles).filter((b) => b.pgId === pg.id)).toHaveLength(2);
    const res = await fetch(`http://127.0.0.1:${dashboardPort}/api/cluster`, { headers: { authorization: `Bearer ${env.cluster.token}` } });
    const dash = (await res.json()) as { nodes: { total: Record<string, number>; used: Record<string, number>; bundles: { pgId: string; used: Record<string, number> }[] }[] };
    expect(JSON.stringify(dash.nodes)).not.toContain('_group_');
    expect(dash.nodes.reduce((s, n) => s + (n.total.CPU ?? 0), 0)).toBe(4);
    expect(dash.nodes.reduce((s, n) => s + (n.used.CPU ?? 0), 0)).toBe(1);
    expect(dash.nodes.flatMap((n) => n.bundles).filter((b) => b.pgId === pg.id)).toHaveLength(2);

    await removePlacementGroup(pg);
  });

  it('removePlacementGroup - resolves once the bundle is back in the node pool and what ran in it stopped', async () => {
    const pg = placementGroup([{ CPU: 2 }], { strategy: 'STRICT_PACK', name: 'pruned-trial' });
    await pg.ready(20_000);
    const h = Holder.options({ placementGroup: pg, bundleIndex: 0, numCpus: 2 }).remote();
    expect(await get(h.ping.remote())).toBe('pong');
    await removePlacementGroup(pg);
    // at once, no waiting: the nodes themselves reported the resources back
    const ns = await nodes();
    expect(bundlesOf(ns, pg)).toEqual([]);
    expect(await availableResources()).toMatchObject({ CPU: 4, camera: 1 });
    await expect(get(h.ping.remote())).rejects.toBeInstanceOf(ActorDiedError);
  });

  it('pending groups - first come, first served: a big group is not starved by smaller later ones', async () => {
    const a = placementGroup([{ CPU: 2 }], { strategy: 'STRICT_PACK', name: 'fifo-a' });
    await a.ready(20_000);
    const b1 = placementGroup([{ CPU: 1 }], { name: 'fifo-b1' });
    const b2 = placementGroup([{ CPU: 1 }], { name: 'fifo-b2' });
    await Promise.all([b1.ready(20_000), b2.ready(20_000)]);
    // the cluster is full; three groups wait, in this order
    const huge = placementGroup([{ CPU: 64 }], { name: 'fifo-huge' });
    const big = placementGroup([{ CPU: 2 }], { strategy: 'STRICT_PACK', name: 'fifo-big' });
    const small = placementGroup([{ CPU: 1 }], { name: 'fifo-small' });

    // one CPU frees up: `small` would fit, but `big` came first and the cluster can hold it
    await removePlacementGroup(b1);
    expect(await groupStates()).toMatchObject({ 'fifo-huge': 'PENDING', 'fifo-big': 'PENDING', 'fifo-small': 'PENDING' });
    // two CPUs on one node: `big` goes; `small` still waits for room
    await removePlacementGroup(b2);
    await big.ready(20_000);
    expect(await groupStates()).toMatchObject({ 'fifo-huge': 'PENDING', 'fifo-big': 'CREATED', 'fifo-small': 'PENDING' });
    // `huge` can never fit: it is skipped, not a blocker
    await removePlacementGroup(a);
    await small.ready(20_000);
    expect((await groupStates())['fifo-huge']).toBe('PENDING');
    for (const g of [huge, big, small]) await removePlacementGroup(g);
    expect(await availableResources()).toMatchObject({ CPU: 4, camera: 1 });
  });
});
