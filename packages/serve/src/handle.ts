/**
 * DeploymentHandle: `handle.method.remote(...args)` calls a method on one replica of a deployment
 * (power of two choices over the replicas with room) and returns a DeploymentResponse — awaitable,
 * and passable to another handle call without awaiting (it travels as an ObjectRef, resolved before
 * the method runs). An application's handle (from serve.run) also splits traffic between the live
 * version and a canary, and mirrors a share to a shadow.
 */
import { get, put, type ObjectRef, type ObjectRefGenerator } from '@samsara/ray';
import { isReplicaGone, RouterClient, type DeploymentRouter, type ReplicaSlot } from './internal/router-client.js';
import { callReplica, type ReplicaCall } from './internal/replica-call.js';
import { appKey, depKey, STREAM_MARKER, type AppTable } from './internal/spec.js';
import { requestIdForCall } from './internal/request-scope.js';

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

/**
 * A call's failure, carried as the settled value of {@link Dispatched.outcome} instead of a rejection:
 * a response nobody awaits then raises no unhandled rejection, without a `.catch()` promise per call.
 */
class Failed {
  constructor(readonly error: unknown) {}
}

/** The value of an outcome, or its error thrown. */
function unwrap<T>(v: T | Failed): T {
  if (v instanceof Failed) throw v.error;
  return v;
}

/** A sent call: its ref when it went through the core, its outcome, whether it streams. */
interface Dispatched<T> {
  readonly ref?: ObjectRef<T>;
  /** Settles once the call finished (its slot released): the value, or a Failed. Never rejects. */
  readonly outcome: Promise<T | Failed>;
  readonly stream?: boolean;
}

const streamError = (requestId: string): TypeError => new TypeError(`Request ${requestId} is a stream (a generator method): iterate it; it cannot be passed to another call.`);

/** The result of a handle call: await it, or pass it to another handle call. */
export class DeploymentResponse<T> implements PromiseLike<T> {
  /** The sent call, when it was sent at once (the usual case: a replica had room). */
  private sent: Dispatched<T> | undefined;
  /** Otherwise: the call once sent (after waiting for a table, a replica, or argument responses). */
  private readonly later: Promise<Dispatched<T>> | undefined;
  private laterOutcome: Promise<T | Failed> | undefined;
  /** @internal */
  constructor(
    dispatched: Promise<Dispatched<T>> | Dispatched<T>,
    readonly requestId: string,
  ) {
    if (dispatched instanceof Promise) {
      this.later = dispatched;
      // Settled either way, so then() sees a failure to send (no controller…) as a Failed too.
      this.laterOutcome = dispatched.then(
        (d) => d.outcome,
        (e: unknown) => new Failed(e),
      );
    } else this.sent = dispatched;
  }
  /**
   * The ObjectRef of the result, once the request is on a replica. A request answered over the direct
   * path (same machine) has none of its own: its value is put in the object store on first ask.
   */
  async ref(): Promise<ObjectRef<T>> {
    const d = await this.dispatchedCall();
    if (d.stream) throw streamError(this.requestId);
    return d.ref ?? ((await put(unwrap(await d.outcome))) as ObjectRef<T>);
  }
  /** What a call taking this response as an argument sends: its ref when it has one, else its value. @internal */
  async argument(): Promise<unknown> {
    const d = await this.dispatchedCall();
    if (d.stream) throw streamError(this.requestId);
    return d.ref ?? unwrap(await d.outcome);
  }
  /** The sent request (ref, outcome, whether it streams). @internal */
  dispatchedCall(): Dispatched<T> | Promise<Dispatched<T>> {
    return this.sent ?? this.later!;
  }
  /** The outcome: straight from the sent call, without a promise of its own when it was sent at once. */
  private outcome(): Promise<T | Failed> {
    return this.sent ? this.sent.outcome : this.laterOutcome!;
  }
  then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, fail?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    // One reaction on the outcome (each promise costs an actor thread's async hooks).
    return this.outcome().then((v) => {
      if (v instanceof Failed) {
        if (typeof fail === 'function') return fail(v.error);
        throw v.error;
      }
      return typeof ok === 'function' ? ok(v) : (v as unknown as A);
    });
  }
  catch<B = never>(fail: (e: unknown) => B | PromiseLike<B>): Promise<T | B> {
    return this.then(undefined, fail);
  }
  /** For a generator method: its values as they are yielded (see HandleMethod). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T extends AsyncIterable<infer Y> ? Y : never> {
    const v = unwrap(await this.outcome()) as unknown;
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

function hasResponseArg(args: unknown[]): boolean {
  for (let i = 0; i < args.length; i++) if (args[i] instanceof DeploymentResponse) return true;
  return false;
}

function resolveArgs(args: unknown[]): Promise<unknown[]> {
  return Promise.all(args.map((a) => (a instanceof DeploymentResponse ? a.argument() : a)));
}

/** Drops the slot's replica from the router when `e` says it is gone. */
function noteFailure(router: DeploymentRouter, slot: ReplicaSlot, e: unknown): void {
  if (isReplicaGone(e)) router.markDead(slot.replicaId);
}

/** Starts a generator method's stream on the slot's replica; the slot is released when it ends. */
function startStream<T>(router: DeploymentRouter, slot: ReplicaSlot, method: string, args: unknown[], requestId: string): T {
  const gen = slot.handle.__serve_stream.remote(method, { requestId }, ...args) as ObjectRefGenerator<unknown>;
  return streamValues(gen, (e) => {
    router.release(slot);
    noteFailure(router, slot, e);
  }) as T;
}

/** Sends the call on an acquired slot (released when the result is in). Never throws. */
function send<T>(router: DeploymentRouter, slot: ReplicaSlot, method: string, args: unknown[], requestId: string): Dispatched<T> {
  try {
    if (streamingMethods.get(router)?.has(method)) return { outcome: Promise.resolve(startStream<T>(router, slot, method, args, requestId)), stream: true };
    const sent = callReplica<T>(slot, method, args, requestId);
    const outcome = sent.done.then(
      (v): T | Failed => {
        if (isStreamMarker(v)) {
          let set = streamingMethods.get(router);
          if (!set) streamingMethods.set(router, (set = new Set()));
          set.add(method);
          try {
            return startStream<T>(router, slot, method, args, requestId);
          } catch (e) {
            router.release(slot);
            return new Failed(e);
          }
        }
        router.release(slot);
        return v;
      },
      (e: unknown) => {
        router.release(slot);
        noteFailure(router, slot, e);
        return new Failed(e);
      },
    );
    return { ref: sent.ref, outcome };
  } catch (e) {
    router.release(slot);
    return { outcome: Promise.resolve(new Failed(e)) };
  }
}

/** The slow path: waits for a table or a replica with room, and for argument responses, then sends. */
async function dispatchLater<T>(router: DeploymentRouter, method: string, args: unknown[], requestId: string): Promise<Dispatched<T>> {
  let slot: ReplicaSlot;
  try {
    const slotOrP = router.acquire({ requestId, method });
    slot = slotOrP instanceof Promise ? await slotOrP : slotOrP;
  } catch (e) {
    return { outcome: Promise.resolve(new Failed(e)) };
  }
  let real: unknown[];
  try {
    real = hasResponseArg(args) ? await resolveArgs(args) : args;
  } catch (e) {
    router.release(slot);
    return { outcome: Promise.resolve(new Failed(e)) };
  }
  return send<T>(router, slot, method, real, requestId);
}

/**
 * Sends one call to a deployment through `router` (direct to the replica when it is on this machine,
 * see internal/replica-call.ts); the slot is released when the result is in. When a replica has room
 * and no argument is another call's response (the usual case) the call goes out at once and the
 * response's outcome is the call's own reaction: two promises in all, no async function.
 */
export function callDeployment<T>(router: DeploymentRouter, method: string, args: unknown[], requestId: string): DeploymentResponse<T> {
  if (!hasResponseArg(args)) {
    const slot = router.tryAcquire({ requestId, method });
    if (slot) return new DeploymentResponse<T>(send<T>(router, slot, method, args, requestId), requestId);
  }
  return new DeploymentResponse<T>(dispatchLater<T>(router, method, args, requestId), requestId);
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
      // A method seen before first (the per-call path): only method names are ever put in the map.
      const known = typeof prop === 'string' ? methods.get(prop) : undefined;
      if (known) return known;
      if (typeof prop === 'symbol' || NOT_METHODS.has(prop) || prop in target) return Reflect.get(target, prop, receiver);
      const m: HandleMethod<unknown[], unknown> = { remote: (...args: unknown[]) => call(prop, args) };
      methods.set(prop, m);
      return m;
    },
  }) as unknown as DeploymentHandle<T>;
}

/** A handle to one deployment of one version (track) of an application (used for composition). @internal */
export function deploymentHandle<T>(app: string, track: string, deployment: string): DeploymentHandle<T> {
  const router = RouterClient.get().deploymentRouter(depKey(app, track, deployment), `${app}/${deployment}`);
  return makeHandle<T>({ deploymentName: deployment, appName: app }, (method, args) => callDeployment(router, method, args, requestIdForCall()));
}

/** A handle to an application's ingress: splits between live and canary, mirrors to a shadow. @internal */
export function appHandle<T>(app: string, ingress: string): DeploymentHandle<T> {
  const client = RouterClient.get();
  const key = appKey(app);
  void client.ensureWatched(key);
  return makeHandle<T>({ deploymentName: ingress, appName: app }, (method, args) => {
    const requestId = requestIdForCall();
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
