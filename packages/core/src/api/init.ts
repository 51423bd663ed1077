/**
 * `init()` and `shutdown()`.
 *
 * `init()` with no address starts an embedded local cluster in this process: a head, a node with every
 * CPU of the machine and worker threads, and this driver — real gRPC on loopback, the same code paths as
 * a multi-process cluster. `init({ address })` joins a cluster started with `rayts start`; the token
 * comes from `token`, RAYTS_TOKEN, or the local session file. With no `address` option, RAYTS_ADDRESS
 * (when set) is the address to join — as Ray does with RAY_ADDRESS — which is how a script run by
 * `rayts job submit` joins the cluster that runs it (docs/jobs.md).
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  InvalidArgumentError,
  RayError,
  createRootLogger,
  silentLogger,
  validateResources,
  validateAmount,
  sessionsRoot,
  parseLabels,
  describe,
  type ResourceMap,
  type Logger,
} from '@samsara/ray-common';
import { createSession, resolveTokenSource, writeToken, liveSession } from '../session.js';
import { noteTokenSource } from '../rpc/auth.js';
import { ClusterProcess, defaultNodeResources } from '../process/cluster-process.js';
import { CoreWorker } from '../owner/core-worker.js';
import { packWorkingDir } from '../runtime-env/working-dir.js';
import { DriverRuntime } from './driver-runtime.js';
import { currentRuntime, setRuntime } from '../runtime/runtime.js';
import { checkKnownKeys } from './options.js';
import { setDriverCodeScope } from './callable-ref.js';
import { configureTls, loadTls, servingTls, tlsOptionsFromEnv, type TlsOptions } from '../rpc/tls.js';

export interface RuntimeEnv {
  /** Directory shipped to every node (node_modules and .git excluded); modules in it ship with their imports. */
  workingDir?: string;
}

export interface InitOptions {
  /**
   * 'HOST:PORT' of a head started with `rayts start --head`, or 'auto' for this machine's latest session.
   * Default: RAYTS_ADDRESS when set (a job started by `rayts job submit` has it), else an embedded cluster.
   */
  address?: string;
  /** Cluster token [RAYTS_TOKEN, then the local session file]. */
  token?: string;
  /** Embedded cluster: CPUs of its node [all CPUs]. */
  numCpus?: number;
  /** Embedded cluster: GPUs of its node [0]. */
  numGpus?: number;
  /** Embedded cluster: custom resources of its node. */
  resources?: ResourceMap;
  /** Embedded cluster: labels of its node, as an object or "k=v,k2=v2". */
  labels?: Record<string, string> | string;
  /** Embedded cluster: bytes of object store. */
  objectStoreMemory?: number;
  /** Code shipped with the job. Default inside a submitted job: the job's working dir (`--working-dir`). */
  runtimeEnv?: RuntimeEnv;
  /** Namespace for named actors [a fresh anonymous one]. */
  namespace?: string;
  /** Return quietly when already initialised [false: throw]. */
  ignoreReinitError?: boolean;
  /**
   * TLS, for a cluster started with --tls-*: `ca` verifies the cluster; this driver also serves (nodes
   * pull the objects it owns), so it needs `cert` and `key` too — when left out, `node.pem` and
   * `node-key.pem` beside the CA file (as `rayts cert create` writes them) are used.
   * [RAYTS_TLS_CA / RAYTS_TLS_CERT / RAYTS_TLS_KEY; none: plaintext]
   */
  tls?: TlsOptions;
}

const INIT_OPTIONS = [
  'address', 'token', 'numCpus', 'numGpus', 'resources', 'labels', 'objectStoreMemory', 'runtimeEnv', 'namespace', 'ignoreReinitError', 'tls',
];

function driverLogger(sessionDir: string | undefined): Logger {
  if (!sessionDir) return silentLogger();
  return createRootLogger('driver', join(sessionDir, 'logs', `driver-${process.pid}.log`));
}

/**
 * Starts or joins a cluster and makes this process a driver.
 *
 * Which cluster: `opts.address`; else RAYTS_ADDRESS (with RAYTS_TOKEN) when set; else a new embedded
 * one. Inside a job started by `rayts job submit`, `init()` therefore joins the submitting cluster, ships
 * the job's working dir by default, and registers its driver under the submission (RAYTS_SUBMISSION_ID),
 * so `rayts job status` shows both.
 * @throws InvalidArgumentError for unknown options, a malformed address, or embedded-cluster options
 *   (numCpus, resources, ...) combined with an address (given or from RAYTS_ADDRESS).
 * @throws RayError when already initialised (unless `ignoreReinitError`).
 */
export async function init(opts: InitOptions = {}): Promise<void> {
  checkKnownKeys(opts, INIT_OPTIONS, 'init()');
  if (opts.namespace !== undefined && (typeof opts.namespace !== 'string' || !opts.namespace)) {
    throw new InvalidArgumentError(`init(): namespace must be a non-empty string, got ${describe(opts.namespace)}.`);
  }
  if (currentRuntime()) {
    if (opts.ignoreReinitError) return;
    throw new RayError('init() was already called in this process.', { hint: 'Call shutdown() first, or pass { ignoreReinitError: true }.' });
  }
  configureTls(loadTls(servingTls(opts.tls ?? tlsOptionsFromEnv(), 'init()')));
  const wd = opts.runtimeEnv?.workingDir ?? (process.env.RAYTS_JOB_WORKING_DIR || undefined);
  if (opts.runtimeEnv !== undefined) checkKnownKeys(opts.runtimeEnv, ['workingDir'], 'init() runtimeEnv');
  const pkg = wd ? packWorkingDir(resolve(wd)) : undefined;
  const entryScript = process.argv[1] ? resolve(process.argv[1]) : undefined;
  const fromEnv = opts.address === undefined && !!process.env.RAYTS_ADDRESS;
  let address = fromEnv ? process.env.RAYTS_ADDRESS!.trim() : opts.address;
  if (address === 'auto') {
    const rec = liveSession()?.head;
    if (!rec) throw new RayError('init({ address: "auto" }) found no running cluster on this machine.', { hint: 'Start one with `rayts start --head`.' });
    address = rec.address;
  }

  if (address !== undefined) {
    if (typeof address !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(address)) {
      throw new InvalidArgumentError(`init(): address${fromEnv ? ' (from RAYTS_ADDRESS)' : ''} must be "HOST:PORT", got ${describe(address)}.`, { hint: "Example: init({ address: '127.0.0.1:6380' })." });
    }
    for (const k of ['numCpus', 'numGpus', 'resources', 'labels', 'objectStoreMemory'] as const) {
      if (opts[k] !== undefined) throw new InvalidArgumentError(`init(): ${k} configures an embedded cluster and cannot be combined with address${fromEnv ? ' (RAYTS_ADDRESS is set)' : ''}.`, { hint: 'Give node resources to `rayts start` instead.' });
    }
    const { token, source } = resolveTokenSource(opts.token, undefined, address);
    noteTokenSource(address, source);
    const log = silentLogger();
    const host = address.startsWith('127.') || address.startsWith('localhost') ? '127.0.0.1' : (process.env.RAYTS_NODE_IP ?? '0.0.0.0');
    const proc = await ClusterProcess.start({
      head: false,
      node: false,
      headAddress: address,
      host,
      port: 0,
      token,
      sessionDir: '',
      sessionName: '',
      resources: {},
      labels: {},
      log,
    });
    try {
      const worker = await connectDriver(proc, address, token, log, pkg, entryScript, undefined, opts.namespace);
      setRuntime(new DriverRuntime(worker, proc, false, log, async () => undefined));
    } catch (e) {
      await proc.close();
      throw e;
    }
    return;
  }

  // Embedded cluster.
  const extra = validateResources(opts.resources, 'init()');
  const numCpus = opts.numCpus === undefined ? undefined : validateAmount(opts.numCpus, 'init(): numCpus');
  const numGpus = opts.numGpus === undefined ? undefined : validateAmount(opts.numGpus, 'init(): numGpus');
  const labels = typeof opts.labels === 'string' ? parseLabels(opts.labels) : { ...(opts.labels ?? {}) };
  const session = createSession(join(sessionsRoot(), 'embedded'));
  const token = writeToken(session.dir);
  const log = process.env.RAYTS_LOG_LEVEL ? driverLogger(session.dir) : silentLogger();
  const proc = await ClusterProcess.start({
    head: true,
    node: true,
    host: '127.0.0.1',
    port: 0,
    token,
    sessionDir: session.dir,
    sessionName: session.name,
    resources: defaultNodeResources(numCpus, numGpus, extra),
    labels,
    log,
    objectStoreMemory: opts.objectStoreMemory,
  });
  try {
    const worker = await connectDriver(proc, proc.address, token, log, pkg, entryScript, proc.node?.nodeId, opts.namespace);
    setRuntime(
      new DriverRuntime(worker, proc, true, log, async () => {
        rmSync(session.dir, { recursive: true, force: true });
      }),
    );
  } catch (e) {
    await proc.close();
    throw e;
  }
}

async function connectDriver(
  proc: ClusterProcess,
  headAddress: string,
  token: string,
  log: Logger,
  pkg: ReturnType<typeof packWorkingDir> | undefined,
  entryScript: string | undefined,
  localNodeId: string | undefined,
  namespace: string | undefined,
): Promise<CoreWorker> {
  const probe = new CoreWorker({
    headAddress,
    token,
    jobId: '',
    ownAddress: proc.address,
    store: proc.store,
    log,
  });
  let jobId: string;
  try {
    const reply = await probe.headCall<{ jobId: string }>('registerJob', {
      driverAddress: proc.address,
      pid: process.pid,
      entrypoint: entryScript ?? '',
      // Set by `rayts job submit` for the entrypoint it runs: links this driver's job to the submission.
      submissionId: process.env.RAYTS_SUBMISSION_ID ?? '',
    }, 10_000);
    jobId = reply.jobId;
  } finally {
    await probe.close();
  }
  const worker = new CoreWorker({
    headAddress,
    token,
    jobId,
    ownAddress: proc.address,
    // A joined driver has no node of its own: DEFAULT placement then starts from the least used node.
    localNodeId,
    store: proc.store,
    log,
    workingDir: pkg?.sourceDir,
    workingDirArchive: pkg ? { hash: pkg.hash, bytes: pkg.bytes } : undefined,
    entryScript,
    isDriver: true,
    namespace: namespace ?? `anonymous_${jobId}`,
  });
  proc.router.owners.add(worker);
  await worker.view.ready();
  setDriverCodeScope({ workingDir: pkg?.sourceDir, entryScript });
  return worker;
}

/** Leaves the cluster (and stops the embedded one). Objects this driver owns are released. */
export async function shutdown(): Promise<void> {
  const rt = currentRuntime();
  if (!rt || rt.kind !== 'driver') return;
  setRuntime(undefined);
  setDriverCodeScope(undefined);
  await rt.shutdown();
}
