/**
 * startEdgeNode: a node that only dials out, for dash cams behind NAT (the `rayts-edge` daemon of
 * @samsara/ray-edge runs it). It is an ordinary node daemon — same task queue, worker pool, actor host
 * and object store — whose calls from submitters arrive through its tunnel to the head instead of a
 * listening socket, and whose own calls to other processes go through the head too. See
 * docs/edge-agent.md.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  createRootLogger,
  healthConfig,
  randomId,
  sessionsRoot,
  validateAmount,
  validateResources,
  type Logger,
  type ResourceMap,
} from '@samsara/ray-common';
import { NodeDaemon } from '../node/node-daemon.js';
import { WorkerBridge } from '../node/worker-bridge.js';
import { OwnerRouter } from '../node/object-server.js';
import { createProcessStore } from '../owner/process-store.js';
import { nodeServiceDefinition, ownerServiceDefinition } from '../rpc/services.js';
import { resolveToken } from '../session.js';
import { forgetProcess, recordProcess } from '../cli/process-records.js';
import { EdgeTunnelClient } from './edge-tunnel-client.js';
import { relayDialsVia } from './edge-address.js';
import { backoffMs } from './tunnel-frames.js';
import { clientTls, configureTls, loadTls, tlsOptionsFromEnv, type TlsOptions } from '../rpc/tls.js';

/** Options of {@link startEdgeNode} (defaults in brackets). */
export interface EdgeNodeOptions {
  /** The head, `HOST:PORT` (required). */
  readonly address: string;
  /** Cluster token [RAYTS_TOKEN, then the local session's token file]. */
  readonly token?: string;
  /** Custom resources offered, e.g. `{ camera: 1 }` [none]. */
  readonly resources?: ResourceMap;
  /** Node labels, e.g. `{ device: 'cam-01', soc: 'qcs6490' }` [none]. */
  readonly labels?: Record<string, string>;
  /** CPUs offered, which is how many tasks run at a time [1: a camera runs one model at a time]. */
  readonly numCpus?: number;
  /** Queued tasks beyond which new ones are refused, retriably, so they go elsewhere [16]. */
  readonly maxQueuedTasks?: number;
  /** Object store bytes [64 MiB]. */
  readonly objectStoreMemory?: number;
  /** Directory for logs, shipped working directories and spill files [<RAYTS_TMPDIR>/edge_<id>]. */
  readonly workDir?: string;
  /** Logger [pino, to <workDir>/logs/edge.log]. */
  readonly log?: Logger;
  /** Reconnect backoff: first delay and cap, jittered [200 ms, 10 s]. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** Called when the head orders the cluster to stop (the head's Shutdown RPC). */
  readonly onShutdown?: (reason: string) => void;
  /**
   * TLS for the tunnel to the head: `ca` verifies the head; `cert`/`key` are presented when the cluster
   * requires client certificates [RAYTS_TLS_CA / RAYTS_TLS_CERT / RAYTS_TLS_KEY; none: plaintext].
   */
  readonly tls?: TlsOptions;
}

const OPTION_KEYS = ['address', 'token', 'resources', 'labels', 'numCpus', 'maxQueuedTasks', 'objectStoreMemory', 'workDir', 'log', 'reconnect', 'onShutdown', 'tls'];

/** A running edge node. */
export interface EdgeNode {
  /** Stable for the life of the process (the tunnel's identity). */
  readonly edgeId: string;
  /** The node id the head gave; changes when the node re-joins after being declared dead. */
  readonly nodeId: string;
  /** How submitters address it: `edge://<edgeId>@<head>`. */
  readonly address: string;
  /** Whether the tunnel to the head is up right now. */
  readonly connected: boolean;
  /** Stops the node: running tasks and actors end, the tunnel closes. */
  close(): Promise<void>;
}

let running = false;

/**
 * Starts an edge node in this process and resolves once it is registered with the head. While the
 * head is unreachable it keeps trying (exponential backoff with jitter); it rejects with
 * AuthenticationError on a wrong token and InvalidArgumentError on bad options. One per process: the
 * process routes all its node-to-node calls through the head. Once registered, the process is recorded
 * like the daemons `rayts start` starts, so `rayts stop` on this machine sends it SIGTERM (handle it by
 * calling `close()`, as `rayts-edge` does).
 *
 * @example
 * const node = await startEdgeNode({ address: '10.0.0.5:6380', resources: { camera: 1 }, labels: { device: 'cam-01' } });
 * process.on('SIGTERM', () => void node.close());
 */
export async function startEdgeNode(options: EdgeNodeOptions): Promise<EdgeNode> {
  const o = resolveOptions(options);
  if (running) throw new InvalidArgumentError('startEdgeNode: an edge node is already running in this process.');
  running = true;
  const edgeId = randomId(8);
  const workDir = o.workDir ?? join(sessionsRoot(), `edge_${edgeId}`);
  // The work dir holds logs and spilled objects (user data): the owner's only, whoever made it.
  mkdirSync(join(workDir, 'logs'), { recursive: true, mode: 0o700 });
  chmodSync(workDir, 0o700);
  chmodSync(join(workDir, 'logs'), 0o700);
  const log = o.log ?? createRootLogger('rayts-edge', join(workDir, 'logs', `edge-${process.pid}.log`));
  const token = resolveToken(o.token, undefined, o.address);
  const health = healthConfig();
  // An edge node only dials out: a CA is enough (a certificate only for clusters that require one).
  configureTls(loadTls(clientTls(options.tls ?? tlsOptionsFromEnv())));
  relayDialsVia(o.address);

  const router = new OwnerRouter();
  const store = createProcessStore({ capacityBytes: o.objectStoreMemory, spillRoot: join(workDir, 'spill') });
  let daemon: NodeDaemon | undefined;
  let bridge: WorkerBridge | undefined;
  const handlers: Record<string, (call: never) => unknown> = { resolveObjects: router.resolveHandler() as never, updateBorrowers: router.updateBorrowersHandler() as never };
  for (const name of Object.keys(nodeServiceDefinition)) {
    handlers[name] = ((call: never) => (daemon!.service().implementation[name] as (c: never) => unknown)(call)) as never;
  }
  const tunnel = new EdgeTunnelClient({
    headAddress: o.address,
    token,
    edgeId,
    methods: { ...nodeServiceDefinition, ...ownerServiceDefinition } as never,
    handlers,
    log: log.child({ component: 'edge-tunnel' }),
    backoff: o.reconnect,
  });
  let closed = false;
  let recorded = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (recorded) forgetProcess(process.pid);
    await bridge?.close();
    await daemon?.close();
    tunnel.close();
    store.close();
    relayDialsVia(undefined);
    running = false;
  };
  try {
    const address = await tunnel.start();
    daemon = new NodeDaemon({
      headAddress: o.address,
      token,
      address,
      resources: o.resources,
      labels: o.labels,
      kind: 'edge',
      sessionDir: workDir,
      store,
      log: log.child({ role: 'node' }),
      health,
      threads: Math.max(1, Math.ceil(o.resources.CPU ?? 1)),
      maxQueuedTasks: o.maxQueuedTasks,
      // Idle small: the worker thread starts with the first task (and ends after a minute idle).
      warmThreads: 0,
      warmActors: 0,
      onShutdown: o.onShutdown,
    });
    bridge = new WorkerBridge(daemon, router, o.address, log.child({ role: 'bridge' }));
    const b = bridge;
    daemon.onRefsEscaped = (jobId, ids, owners, caller) => b.registerEscaped(jobId, ids, owners, caller);
    daemon.onThreadExit = (threadId) => b.threadExited(threadId);
    daemon.bridgePorts = (port) => b.attachPort(port);
    for (let attempt = 0; ; attempt++) {
      try {
        await daemon.join();
        break;
      } catch (e) {
        if ((e as { code?: string }).code === 'AUTHENTICATION' || closed) throw e;
        const delay = backoffMs(attempt, o.reconnect.initialMs, o.reconnect.maxMs);
        log.warn({ err: (e as Error).message, retryInMs: delay }, 'could not register with the head; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  const d = daemon;
  // Like the daemons `rayts start` starts: `rayts stop` on this machine (same RAYTS_TMPDIR) stops it.
  recordProcess({ pid: process.pid, role: 'edge', address: d.address, sessionDir: workDir, startedAt: new Date().toISOString() });
  recorded = true;
  log.info({ edgeId, nodeId: d.nodeId, address: d.address }, 'edge node ready');
  return {
    edgeId,
    get nodeId() {
      return d.nodeId;
    },
    address: d.address,
    get connected() {
      return tunnel.connected;
    },
    close,
  };
}

interface ResolvedEdgeOptions {
  readonly address: string;
  readonly token?: string;
  readonly resources: ResourceMap;
  readonly labels: Record<string, string>;
  readonly maxQueuedTasks: number;
  readonly objectStoreMemory: number;
  readonly workDir?: string;
  readonly log?: Logger;
  readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
  readonly onShutdown?: (reason: string) => void;
}

function resolveOptions(o: EdgeNodeOptions): ResolvedEdgeOptions {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('startEdgeNode: options must be an object with at least { address }.');
  const unknown = Object.keys(o).filter((k) => !OPTION_KEYS.includes(k));
  if (unknown.length) throw new InvalidArgumentError(`startEdgeNode: unknown option ${unknown.join(', ')}; valid options are ${OPTION_KEYS.join(', ')}.`);
  if (typeof o.address !== 'string' || !/^.+:\d{1,5}$/.test(o.address)) {
    throw new InvalidArgumentError(`startEdgeNode: address must be HOST:PORT of the head, got ${JSON.stringify(o.address)}.`, { hint: 'Example: 10.0.0.5:6380' });
  }
  const custom = validateResources(o.resources ?? {}, 'startEdgeNode: resources');
  if ('CPU' in custom) throw new InvalidArgumentError('startEdgeNode: resources must not set CPU; use numCpus.');
  const numCpus = o.numCpus === undefined ? 1 : validateAmount(o.numCpus, 'startEdgeNode: numCpus');
  const resources: ResourceMap = { ...custom };
  if (numCpus > 0) resources.CPU = numCpus;
  const maxQueuedTasks = o.maxQueuedTasks ?? 16;
  if (!Number.isInteger(maxQueuedTasks) || maxQueuedTasks < 0) throw new InvalidArgumentError(`startEdgeNode: maxQueuedTasks must be a non-negative integer, got ${JSON.stringify(o.maxQueuedTasks)}.`);
  const reconnect = o.reconnect ?? { initialMs: 200, maxMs: 10_000 };
  if (!(reconnect.initialMs > 0) || !(reconnect.maxMs >= reconnect.initialMs)) {
    throw new InvalidArgumentError('startEdgeNode: reconnect needs 0 < initialMs <= maxMs.');
  }
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    if (typeof v !== 'string' || !k) throw new InvalidArgumentError(`startEdgeNode: label ${JSON.stringify(k)} must have a string value.`);
  }
  return Object.freeze({
    address: o.address,
    token: o.token,
    resources,
    labels: { ...(o.labels ?? {}) },
    maxQueuedTasks,
    objectStoreMemory: o.objectStoreMemory ?? 64 * 1024 * 1024,
    workDir: o.workDir,
    log: o.log,
    reconnect,
    onShutdown: o.onShutdown,
  });
}
