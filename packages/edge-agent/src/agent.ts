/**
 * The edge agent: command-line configuration and process lifecycle around `startEdgeNode` of
 * @samsara/ray. It joins the cluster as an edge node that only dials out, stays up through network loss
 * (the node reconnects and re-joins by itself), and exits on SIGTERM/SIGINT or when the cluster stops.
 */
import { parseArgs } from 'node:util';
// The edge entry of @samsara/ray, not its index: the index loads the driver API, the head and the CLI
// (~1 MB of code an edge node never runs).
import { startEdgeNode, type EdgeNode, type EdgeNodeOptions } from '@samsara/ray/edge';
import { InvalidArgumentError, parseLabels, validateResources, type ResourceMap } from '@samsara/ray-common';

export const USAGE =
  "rayts-edge --address HOST:PORT [--resources '{\"camera\":1}'] [--labels k=v,...] [--token T] [--num-cpus N] [--max-queued-tasks N] [--object-store-memory BYTES] [--work-dir DIR] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]";

/** What the command line asks for (see {@link USAGE}). */
export interface EdgeAgentConfig {
  readonly address: string;
  readonly token?: string;
  readonly resources: ResourceMap;
  readonly labels: Record<string, string>;
  readonly numCpus?: number;
  readonly maxQueuedTasks?: number;
  readonly objectStoreMemory?: number;
  readonly workDir?: string;
  /** TLS files (--tls-ca, --tls-cert, --tls-key); RAYTS_TLS_* when absent. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

function numberFlag(v: string | undefined, flag: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new InvalidArgumentError(`--${flag} must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}.`, { hint: `Usage: ${USAGE}` });
  }
  return n;
}

/** Parses `rayts-edge` arguments; throws InvalidArgumentError naming the flag on bad input. */
export function parseAgentArgs(argv: string[]): EdgeAgentConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        address: { type: 'string' },
        token: { type: 'string' },
        resources: { type: 'string' },
        labels: { type: 'string' },
        'num-cpus': { type: 'string' },
        'max-queued-tasks': { type: 'string' },
        'object-store-memory': { type: 'string' },
        'work-dir': { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
      },
    }));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message, { hint: `Usage: ${USAGE}` });
  }
  const address = values.address as string | undefined;
  if (!address || !/^.+:\d{1,5}$/.test(address)) {
    throw new InvalidArgumentError(`--address must be HOST:PORT of the head${address ? `, got ${JSON.stringify(address)}` : ''}.`, { hint: `Usage: ${USAGE}` });
  }
  let resources: ResourceMap = {};
  if (values.resources !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.resources as string);
    } catch {
      throw new InvalidArgumentError(`--resources must be JSON, got ${JSON.stringify(values.resources)}.`, { hint: `Example: --resources '{"camera":1}'` });
    }
    resources = validateResources(parsed, '--resources');
    if ('CPU' in resources) throw new InvalidArgumentError('--resources must not set CPU; use --num-cpus.');
  }
  return {
    address,
    token: values.token as string | undefined,
    resources,
    labels: parseLabels(values.labels as string | undefined),
    numCpus: numberFlag(values['num-cpus'] as string | undefined, 'num-cpus', false),
    maxQueuedTasks: numberFlag(values['max-queued-tasks'] as string | undefined, 'max-queued-tasks', true),
    objectStoreMemory: numberFlag(values['object-store-memory'] as string | undefined, 'object-store-memory', true),
    workDir: values['work-dir'] as string | undefined,
    tls:
      values['tls-ca'] || values['tls-cert'] || values['tls-key']
        ? { ca: values['tls-ca'] as string | undefined, cert: values['tls-cert'] as string | undefined, key: values['tls-key'] as string | undefined }
        : undefined,
  };
}

/**
 * Starts the edge node for `config` and ties it to this process: SIGTERM/SIGINT or a cluster stop
 * close it and exit. Resolves once the node is registered.
 */
export async function runEdgeAgent(config: EdgeAgentConfig, exit: (code: number) => void = (c) => process.exit(c)): Promise<EdgeNode> {
  let node: EdgeNode | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => exit(code), 5000);
    hard.unref();
    try {
      await node?.close();
    } finally {
      exit(code);
    }
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  const options: EdgeNodeOptions = {
    address: config.address,
    token: config.token,
    resources: config.resources,
    labels: config.labels,
    numCpus: config.numCpus,
    maxQueuedTasks: config.maxQueuedTasks,
    objectStoreMemory: config.objectStoreMemory,
    workDir: config.workDir,
    ...(config.tls ? { tls: Object.fromEntries(Object.entries(config.tls).filter(([, v]) => v !== undefined)) } : {}),
    onShutdown: () => void stop(0),
  };
  node = await startEdgeNode(options);
  return node;
}
