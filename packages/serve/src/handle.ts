/**
 * DeploymentHandle: `handle.method.remote(...args)` calls a method on one replica of a deployment
 * (power of two choices over the replicas with room) and returns a DeploymentResponse — awaitable,
 * and passable to another handle call without awaiting (it travels as an ObjectRef, resolved before
 * the method runs). An application's handle (from serve.run) also splits traffic between the live
 * version and a canary, and mirrors a share to a shadow.
 */
import { get, put, type ObjectRef, type ObjectRefGenerator } from '@samsara/ray';
import { randomUUID } from 'node:crypto';
import { isReplicaGone, RouterClient, type DeploymentRouter, type ReplicaSlot } from './internal/router-client.js';
import { callReplica, type ReplicaCall } from './internal/replica-call.js';
import { appKey, depKey, STREAM_MARKER, type AppTable } from './internal/spec.js';

type AnyFn = (...a: never[]) => unknown;

/** Arguments of a handle call: values, or DeploymentResponses of other calls. */
export type HandleArgs<A extends unknown[]> = { [K in keyof A]: A[K] | DeploymentResponse<A[K]> };

/**
 * A method of a handle. A generator method (`*m()` / `async *m()`) streams: its response resolves to
 * an AsyncIterable of the yielded values, and is itself async-iterable (`for await (const v of
 * handle.m.remote())`); leaving the loop early stops the producer on the replica.
 */
export interface HandleMethod<A extends unknown[], R> {
  remote(...args: HandleArgs<A>): R extends AsyncGenerator<infer Y> | Generator<infer Y> ? DeploymentResponse<AsyncIterable<Y>> & AsyncIterable<Y> : DeploymentResponse<Awaited<R>>;
}

/** A handle to a deployment, typed from its class. */
export type DeploymentHandle<T = Record<string, AnyFn>> = {
  readonly [K in keyof T as T[K] extends AnyFn ? K : never]: T[K] extends (...a: infer A) => infer R ? HandleMethod<A, R> : never;
} & { readonly deploymentName: string; readonly appName: string };

/** The result of a handle call: await it, or pass it to another handle call. */
export class DeploymentResponse<T> implements PromiseLike<T> {
  private result: Promise<T> | undefined;
  /** @internal */
  constructor(
    private readonly dispatched: Promise<{ ref?: ObjectRef<T>; done: Promise<T>; stream?: boolean }>,
    readonly requestId: string,
  ) {
    dispatched.catch(() => undefined);
  }
  /**
   * The ObjectRef of the result, once the request is on a replica. A request answered over the direct
   * path (same machine) has none of its own: its value is put in the object store on first ask.
   */
  async ref(): Promise<ObjectRef<T>> {
    const d = await this.dispatched;
    if (d.stream) throw new TypeError(`Request ${this.requestId} is a stream (a generator method): iterate it; it cannot be passed to another call.`);
    return d.ref ?? ((await put(await d.done)) as ObjectRef<T>);
  }
  /** What a call taking this response as an argument sends: its ref when it has one, else its value. @internal */
  async argument(): Promise<unknown> {
    const d = await this.dispatched;
    if (d.stream) throw new TypeError(`Request ${this.requestId} is a stream (a generator method): iterate it; it cannot be passed to another call.`);
    return d.ref ?? d.done;
  }
  /** The sent request (ref, result, whether it streams). @internal */
  dispatchedCall(): Promise<{ ref?: ObjectRef<T>; done: Promise<T>; stream?: boolean }> {
    return this.dispatched;
  }
  private value(): Promise<T> {
    return (this.result ??= this.dispatched.then((d) => d.done));
  }
  then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, fail?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.value().then(ok, fail);
  }
  catch<B = never>(fail: (e: unknown) => B | PromiseLike<B>): Promise<T | B> {
    return this.value().catch(fail);
  }
  /** For a generator method: its values as they are yielded (see HandleMethod). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T extends AsyncIterable<infer Y> ? Y : never> {
    const v = (await this.value()) as unknown;
    if (v === null || typeof v !== 'object' || !(Symbol.asyncIterator in v)) {
      throw new TypeError(`The response of request ${this.requestId} is not a stream: only a generator method's response can be iterated.`);
    }
    yield* v as AsyncIterable<T extends AsyncIterable<infer Y> ? Y : never>;
  }
}

/** The values of a streaming call; `onEnd` runs once it ended, failed or was left early (which stops the producer). */
async function* streamValues<T>(gen: ObjectRefGenerator<T>, onEnd: (e?: unknown) => void): AsyncGenerator<T> {
  let err: unknown;
  try {
    for await (const ref of gen) yield await get(ref);
  } catch (e) {
    err = e;
    throw e;
  } finally {
    onEnd(err);
  }
}

function isStreamMarker(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[STREAM_MARKER] === true;
}

/** Methods known to stream, per router (after the first call says so, the next ones stream at once). */
const streamingMethods = new WeakMap<DeploymentRouter, Set<string>>();

async function resolveArgs(args: unknown[]): Promise<unknown[]> {
  if (!args.some((a) => a instanceof DeploymentResponse)) return args;
  return Promise.all(args.map((a) => (a instanceof DeploymentResponse ? a.argument() : a)));
}

/**
 * Sends one call to a deployment through `router` (direct to the replica when it is on this machine,
 * see internal/replica-call.ts); the slot is released when the result is in.
 */
export function callDeployment<T>(router: DeploymentRouter, method: string, args: unknown[], requestId: string): DeploymentResponse<T> {
  const req = { requestId, method };
  const dispatch = async (): Promise<{ ref?: ObjectRef<T>; done: Promise<T>; stream?: boolean }> => {
    const slotOrP = router.acquire(req);
    const slot: ReplicaSlot = slotOrP instanceof Promise ? await slotOrP : slotOrP;
    let real: unknown[];
    const fail = (e: unknown): void => {
      if (isReplicaGone(e)) router.markDead(slot.replicaId);
    };
    const startStream = (): T => {
      const gen = slot.handle.__serve_stream.remote(method, { requestId }, ...real) as ObjectRefGenerator<unknown>;
      return streamValues(gen, (e) => {
        router.release(slot);
        fail(e);
      }) as T;
    };
    let sent: ReplicaCall<T>;
    try {
      // Awaited only when an argument is another call's response (an await costs a turn and a promise).
      real = args.some((a) => a instanceof DeploymentResponse) ? await resolveArgs(args) : args;
      if (streamingMethods.get(router)?.has(method)) {
        const v = startStream();
        return { done: Promise.resolve(v), stream: true };
      }
      sent = callReplica<T>(slot, method, real, requestId);
    } catch (e) {
      router.release(slot);
      throw e;
    }
    const done = sent.done.then(
      (v) => {
        if (isStreamMarker(v)) {
          let set = streamingMethods.get(router);
          if (!set) streamingMethods.set(router, (set = new Set()));
          set.add(method);
          return startStream();
        }
        router.release(slot);
        return v;
      },
      (e: unknown) => {
        router.release(slot);
        fail(e);
        throw e;
      },
    );
    done.catch(() => undefined);
    return { ref: sent.ref, done };
  };
  return new DeploymentResponse<T>(dispatch(), requestId);
}

/** Picks the track (live or canary by weight) and an optional shadow for one request. */
export function pickTracks(t: AppTable, random = Math.random): { track: string; ingress: string; shadow?: { track: string; ingress: string } } | undefined {
  const live = t.tracks.find((x) => x.role === 'live');
  const canary = t.tracks.find((x) => x.role === 'canary');
  const shadow = t.tracks.find((x) => x.role === 'shadow');
  let chosen = live;
  if (canary && (!live || random() < canary.weight)) chosen = canary;
  if (!chosen) return undefined;
  const out: { track: string; ingress: string; shadow?: { track: string; ingress: string } } = { track: chosen.track, ingress: chosen.ingress };
  if (shadow && chosen === live && random() < shadow.weight) out.shadow = { track: shadow.track, ingress: shadow.ingress };
  return out;
}

const NOT_METHODS = new Set(['then', 'catch', 'toJSON', 'constructor', 'inspect', 'asymmetricMatch', '$$typeof', 'nodeType', 'tagName', 'deploymentName', 'appName']);

function makeHandle<T>(
  data: { deploymentName: string; appName: string },
  call: (method: string, args: unknown[]) => DeploymentResponse<unknown>,
): DeploymentHandle<T> {
  const methods = new Map<string, HandleMethod<unknown[], unknown>>();
  return new Proxy(data, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || NOT_METHODS.has(prop) || prop in target) return Reflect.get(target, prop, receiver);
      let m = methods.get(prop);
      if (!m) {
        m = { remote: (...args: unknown[]) => call(prop, args) };
        methods.set(prop, m);
      }
      return m;
    },
  }) as unknown as DeploymentHandle<T>;
}

/** A handle to one deployment of one version (track) of an application (used for composition). @internal */
export function deploymentHandle<T>(app: string, track: string, deployment: string): DeploymentHandle<T> {
  const router = RouterClient.get().deploymentRouter(depKey(app, track, deployment), `${app}/${deployment}`);
  return makeHandle<T>({ deploymentName: deployment, appName: app }, (method, args) => callDeployment(router, method, args, randomUUID()));
}

/** A handle to an application's ingress: splits between live and canary, mirrors to a shadow. @internal */
export function appHandle<T>(app: string, ingress: string): DeploymentHandle<T> {
  const client = RouterClient.get();
  const key = appKey(app);
  void client.ensureWatched(key);
  return makeHandle<T>({ deploymentName: ingress, appName: app }, (method, args) => {
    const requestId = randomUUID();
    const table = client.appTableNow(key);
    if (table) return routeApp(client, app, table, method, args, requestId);
    // Wrapped in an object: a DeploymentResponse is thenable and would be adopted by the promise.
    const p = client.appTable(key).then((t) => ({ r: routeApp<unknown>(client, app, t, method, args, requestId) }));
    return new DeploymentResponse(
      p.then(({ r }) => r.dispatchedCall()),
      requestId,
    );
  });
}

function routeApp<T>(client: RouterClient, app: string, t: AppTable, method: string, args: unknown[], requestId: string): DeploymentResponse<T> {
  const pick = pickTracks(t);
  const track = pick?.track ?? 'missing';
  const ingress = pick?.ingress ?? 'missing';
  const router = client.deploymentRouter(depKey(app, track, ingress), `${app}/${ingress}`);
  if (pick?.shadow) {
    const sr = client.deploymentRouter(depKey(app, pick.shadow.track, pick.shadow.ingress), `${app}/${pick.shadow.ingress} (shadow)`);
    try {
      callDeployment(sr, method, args, requestId).then(undefined, () => undefined);
    } catch {
      /* a shadow's backpressure never reaches the caller */
    }
  }
  return callDeployment<T>(router, method, args, requestId);
}
