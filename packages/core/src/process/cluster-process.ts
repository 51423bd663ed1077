/**
 * ClusterProcess: what one OS process hosts — a gRPC server with the services of its roles (head, node,
 * owner), the local object store, and the node's worker bridge. Used by the CLI daemons (head, worker
 * node), by `init()` for the embedded cluster (head + node + driver in one process), and by a driver
 * joining a cluster (owner services only).
 */
import { availableParallelism } from 'node:os';
import { healthConfig, type HealthConfig, type Logger, type ResourceMap } from '@samsara/ray-common';
import { ServerHost } from '../rpc/server-host.js';
import { ownerServiceDefinition, nodeServiceDefinition } from '../rpc/services.js';
import { HeadServer } from '../head/head-server.js';
import { NodeDaemon } from '../node/node-daemon.js';
import { WorkerBridge } from '../node/worker-bridge.js';
import { OwnerRouter, pullObjectHandler, freeObjectsHandler } from '../node/object-server.js';
import { createProcessStore, type ProcessStore } from '../owner/process-store.js';
import type { HostedService } from '../rpc/server-host.js';
import { EdgeRelay } from '../edge/edge-relay.js';
import { storeListingService } from '../node/store-listing.js';
import { DataPlaneServer, transferService } from '../rpc/data-plane-server.js';
import { dataPlaneEnabled } from '../rpc/pull-client.js';
import { DashboardServer } from '../dashboard/dashboard-server.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { registerClusterMetrics } from '../metrics/cluster-collector.js';
import { startUserMetricsSink } from '../metrics/user-metrics.js';
import { Registry } from 'prom-client';

export interface ClusterProcessOptions {
  /** Run the head here. */
  readonly head: boolean;
  /** Run a node daemon here (offering `resources`). */
  readonly node: boolean;
  /** Address of the head when it is elsewhere. */
  readonly headAddress?: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly sessionDir: string;
  readonly sessionName: string;
  readonly resources: ResourceMap;
  readonly labels: Record<string, string>;
  readonly kind?: 'head' | 'worker' | 'edge';
  readonly log: Logger;
  readonly health?: HealthConfig;
  readonly objectStoreMemory?: number;
  readonly onShutdown?: (reason: string) => void;
  /** Head: persist the cluster state in `sessionDir` (CLI heads; docs/head-restart.md). */
  readonly persistHeadState?: boolean;
  /** Head: start from the state an earlier head of this session persisted. */
  readonly restoreHead?: boolean;
  /** Head: serve the dashboard (and the cluster's /metrics) here; docs/operations.md. */
  readonly dashboard?: { readonly host: string; readonly port: number; readonly fallbackToFreePort?: boolean; readonly allowedHosts?: readonly string[] };
  /** Node: serve /metrics on this port (0 picks one) on `host`. */
  readonly metricsPort?: number;
  /** /metrics (node and dashboard) without the token. */
  readonly metricsPublic?: boolean;
}

export class ClusterProcess {
  readonly router = new OwnerRouter();
  head?: HeadServer;
  node?: NodeDaemon;
  bridge?: WorkerBridge;
  /** On the head: relays calls for edge nodes into their tunnels (docs/edge-agent.md). */
  edgeRelay?: EdgeRelay;
  /** Serves object pulls over framed TCP beside gRPC (absent with RAYTS_DATA_PLANE=0). */
  dataPlane?: DataPlaneServer;
  address = '';
  dashboard?: DashboardServer;
  metrics?: MetricsServer;
  private stopUserMetrics?: () => void;

  private constructor(
    readonly host: ServerHost,
    readonly store: ProcessStore,
    readonly options: ClusterProcessOptions,
  ) {}

  get headAddress(): string {
    return this.options.head ? this.address : (this.options.headAddress ?? '');
  }

  static async start(o: ClusterProcessOptions): Promise<ClusterProcess> {
    const health = o.health ?? healthConfig();
    const host = new ServerHost(o.token, o.log);
    const store = createProcessStore({ capacityBytes: o.objectStoreMemory, spillRoot: o.sessionDir ? `${o.sessionDir}/spill` : undefined });
    const p = new ClusterProcess(host, store, o);
    if (o.head) p.edgeRelay = new EdgeRelay({ token: o.token, headAddress: () => p.address, holdMs: health.deadAfterMs, log: o.log.child({ role: 'edge-relay' }) });
    // Calls for an edge node (or from one) reach the head's server and go through the relay.
    const routed = (svc: HostedService): HostedService => (p.edgeRelay ? p.edgeRelay.wrap(svc.definition, svc.implementation) : svc);
    host.add(routed({ definition: ownerServiceDefinition, implementation: { resolveObjects: p.router.resolveHandler(), updateBorrowers: p.router.updateBorrowersHandler() } as never }));
    if (o.head) {
      p.head = new HeadServer({
        health,
        sessionName: o.sessionName,
        log: o.log.child({ role: 'head' }),
        onShutdown: o.onShutdown,
        stateDir: o.persistHeadState ? o.sessionDir : undefined,
        restore: o.restoreHead,
        jobs: o.sessionDir ? { sessionDir: o.sessionDir, token: o.token, address: () => p.address } : undefined,
      });
      const svc = p.head.service();
      host.add({ definition: svc.definition, implementation: { ...svc.implementation, edgeTunnel: p.edgeRelay!.tunnelHandler() as never } });
      host.add(p.head.submissions.service());
    }
    // The node service is registered before listening; the daemon that backs it is created once the
    // address is known (it advertises it to the head).
    let daemon: NodeDaemon | undefined;
    if (o.node) {
      const lazy: Record<string, (...a: never[]) => unknown> = {};
      for (const name of Object.keys(nodeServiceDefinition)) {
        lazy[name] = ((...a: never[]) => (daemon!.service().implementation[name] as (...x: never[]) => unknown)(...a)) as never;
      }
      host.add(routed({ definition: nodeServiceDefinition, implementation: lazy }));
    } else {
      host.add(
        routed({
          definition: nodeServiceDefinition,
          implementation: { pullObject: pullObjectHandler(store), freeObjects: freeObjectsHandler(store) } as never,
        }),
      );
    }
    host.add(storeListingService(store));
    host.add(transferService(() => p.dataPlane?.port ?? 0));
    p.address = await host.listen(o.host, o.port);
    if (dataPlaneEnabled()) {
      p.dataPlane = await DataPlaneServer.listen({ host: o.host, token: o.token, store, log: o.log.child({ role: 'data-plane' }) });
    }
    if (o.head && o.dashboard) {
      const cluster = new Registry();
      registerClusterMetrics(cluster, p.head!);
      p.dashboard = await DashboardServer.listen({
        head: p.head!,
        headAddress: () => p.address,
        token: o.token,
        host: o.dashboard.host,
        port: o.dashboard.port,
        fallbackToFreePort: o.dashboard.fallbackToFreePort,
        allowedHosts: o.dashboard.allowedHosts,
        metricsPublic: o.metricsPublic,
        extraMetrics: () => cluster.metrics(),
        log: o.log.child({ role: 'dashboard' }),
      });
    }
    if (o.node) p.stopUserMetrics = startUserMetricsSink();
    if (o.node && o.metricsPort !== undefined) {
      p.metrics = await MetricsServer.listen({ host: o.host, port: o.metricsPort, token: o.token, public: o.metricsPublic, log: o.log.child({ role: 'metrics' }) });
    }
    if (o.node) {
      daemon = new NodeDaemon({
        headAddress: p.headAddress,
        token: o.token,
        address: p.address,
        resources: o.resources,
        labels: o.labels,
        kind: o.kind ?? (o.head ? 'head' : 'worker'),
        sessionDir: o.sessionDir,
        store,
        log: o.log.child({ role: 'node' }),
        health,
        onShutdown: o.onShutdown,
      });
      p.node = daemon;
      p.bridge = new WorkerBridge(daemon, p.router, p.headAddress, o.log.child({ role: 'bridge' }));
      const bridge = p.bridge;
      daemon.onRefsEscaped = (jobId, ids, owners, caller) => bridge.registerEscaped(jobId, ids, owners, caller);
      daemon.onThreadExit = (threadId) => bridge.threadExited(threadId);
      daemon.bridgePorts = (port) => bridge.attachPort(port);
      await daemon.join();
    }
    return p;
  }

  async close(): Promise<void> {
    await this.dashboard?.close();
    await this.metrics?.close();
    this.stopUserMetrics?.();
    await this.bridge?.close();
    await this.node?.close();
    this.head?.close();
    this.edgeRelay?.close();
    await this.host.close();
    await this.dataPlane?.close();
    this.store.close();
  }
}

/** Default resources of a node: every CPU of the machine unless told otherwise. */
export function defaultNodeResources(numCpus?: number, numGpus?: number, extra: ResourceMap = {}): ResourceMap {
  const r: ResourceMap = { CPU: numCpus ?? availableParallelism(), ...extra };
  if (numGpus) r.GPU = numGpus;
  if (r.CPU === 0) delete r.CPU;
  return r;
}
