/**
 * Finding (or starting) the controller actor. It is created on first use by serve.run(), and again by
 * any caller — a driver, the proxy, a replica — that finds it gone while the cluster KV still holds
 * Serve applications: the new controller reads them back (see ControllerCore.restore).
 */
import { actor, get, getActor, kv, nodes, InvalidArgumentError } from '@samsara/ray';
import { classFromSource, CONTROLLER_SOURCE } from './actor-sources.js';
import { CONTROLLER_NAME, SERVE_NAMESPACE } from './spec.js';

export type Ctl = Record<string, { remote(...a: unknown[]): unknown }>;
let ControllerClass: ReturnType<typeof actor> | undefined;

/** The controller; `create`: start one when missing ('always', or 'if-state' when the KV holds apps). */
export async function findController(create: 'never' | 'always' | 'if-state'): Promise<Ctl | undefined> {
  try {
    return (await getActor(CONTROLLER_NAME, { namespace: SERVE_NAMESPACE })) as unknown as Ctl;
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
  }
  if (create === 'never') return undefined;
  if (create === 'if-state' && (await kv.list(SERVE_NAMESPACE, 'app/')).length === 0) return undefined;
  const head = (await nodes()).find((n) => n.isHead && n.alive)?.nodeId;
  ControllerClass ??= actor(classFromSource(CONTROLLER_SOURCE));
  const h = ControllerClass.options({
    name: CONTROLLER_NAME,
    namespace: SERVE_NAMESPACE,
    lifetime: 'detached',
    getIfExists: true,
    maxConcurrency: 1000,
    maxRestarts: -1,
    ...(head ? { scheduling: { nodeId: head, soft: true } } : {}),
  }).remote() as unknown as Ctl;
  await get(h.ping.remote() as never);
  return h;
}
