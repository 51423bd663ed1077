/**
 * ObjectResolver: the objects of one owner as its callers read and make them — `put`, `get` (inline
 * bytes, or a pinned view in the local store, pulled from the node that holds it), `wait`, `free` —
 * and the OwnerService answers to borrowers elsewhere. Refs owned by another process are resolved by
 * asking their owner (in slices, so that a dead owner is noticed). Not responsible for tasks
 * (TaskSubmitter) or for counting references (OwnerReferences).
 */
import {
  ObjectRef,
  taskIdOfObject,
  decodeValue,
  decodeError,
  encodeError,
  GetTimeoutError,
  RayError,
  ObjectLostError,
  OwnerDiedError,
  isRayError,
  newTaskId,
  objectIdOf,
  shortId,
  type ObjectId,
} from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { decodeFromStore, releaseWhenCollected, type ObjectView } from '@samsara/ray-object-store';
import { pb } from '../rpc/services.js';
import { callUnary } from '../rpc/auth.js';
import { encodeResult, type EncodedResult } from '../worker/values.js';
import { relieveStorePressure, withStoreRoom } from './store-pressure.js';
import type { OwnerState } from './owner-state.js';
import type { OwnerReferences } from './owner-references.js';

/** A ready object as `fetchObject` returns it. */
export type Fetched = { readonly inline: Uint8Array } | { readonly view: ObjectView };

/** What object resolution needs from task submission. */
export interface ResolverHooks {
  /** A stored object is gone: rebuild it from lineage (true) or fail it (false). */
  objectLost(id: string, why: string): boolean;
}

export class ObjectResolver {
  constructor(
    private readonly s: OwnerState,
    private readonly r: OwnerReferences,
    private readonly hooks: ResolverHooks,
  ) {}

  async put(value: unknown): Promise<ObjectRef> {
    const r = encodeResult(value, 'put() value');
    if ('stored' in r) await relieveStorePressure(this.s.o.store, r.stored.meta.sizeBytes);
    return withStoreRoom(() => this.putEncoded(r));
  }

  /** Takes ownership of an object already sealed in the local store under `id` (written by a worker thread). */
  adoptStored(id: ObjectId, sizeBytes: number, containedRefs?: readonly string[], containedOwners?: readonly string[]): ObjectRef {
    this.s.objects.resolveStored(id, this.s.o.ownAddress, this.s.o.localNodeId ?? '', sizeBytes);
    const ref = this.r.ref(id);
    if (containedRefs?.length) this.r.holdContained(id, containedRefs, containedOwners, false);
    return ref;
  }

  /**
   * Stores a value this process encoded (inline bytes when small, else its stored form) as a new object
   * owned by this process: inline in the object table, or in the local store.
   */
  putEncoded(r: EncodedResult): ObjectRef {
    const id = objectIdOf(newTaskId(), 0);
    if ('value' in r) this.s.objects.resolveInline(id, r.value);
    else {
      const meta = this.s.o.store.putEncoded(id, r.stored);
      this.s.objects.resolveStored(id, this.s.o.ownAddress, this.s.o.localNodeId ?? '', meta.sizeBytes);
    }
    const ref = this.r.ref(id);
    if (r.containedRefs?.length) this.r.holdContained(id, r.containedRefs, r.containedOwners, false);
    return ref;
  }

  /**
   * Owned by this CoreWorker. Several CoreWorkers share one address (an embedded driver and its node's
   * owners for nested work), so an address match alone is not enough: a ref we do not know is asked of
   * the address's OwnerService, which routes it to the CoreWorker that has it.
   */
  private isOwned(ref: ObjectRef): boolean {
    return ref.ownerAddress === '' || (ref.ownerAddress === this.s.o.ownAddress && this.s.objects.has(ref.id));
  }

  /**
   * Where an object's value is: inline bytes or a location to pull from. Waits until ready (or the
   * deadline). Throws the object's error if it failed.
   */
  async resolveLocation(
    ref: ObjectRef,
    deadline: number | undefined,
  ): Promise<{ inline?: Uint8Array; location?: string; nodeId?: string; sizeBytes: number }> {
    if (this.isOwned(ref)) {
      let e = this.s.objects.get(ref.id);
      if (!e) throw this.unknownObject(ref);
      if (e.state === 'pending') {
        await this.waitSettled(ref.id, deadline);
        e = this.s.objects.get(ref.id);
        if (!e) throw this.unknownObject(ref);
      }
      if (e.state === 'failed') throw e.error!;
      if (e.state === 'pending') throw new GetTimeoutError('timeout'); // replaced by caller
      return { inline: e.inline, location: e.location, nodeId: e.locationNodeId, sizeBytes: e.sizeBytes };
    }
    const timeoutMs = deadline === undefined ? 0 : Math.max(1, deadline - Date.now());
    const reply = await this.askOwner(ref, timeoutMs);
    if (!reply.ready) throw new GetTimeoutError('timeout');
    if (reply.isError) throw decodeError(reply.inline);
    return { inline: reply.inline?.length ? reply.inline : undefined, location: reply.location || undefined, sizeBytes: reply.sizeBytes };
  }

  private unknownObject(ref: ObjectRef): RayError {
    return new ObjectLostError(`Object ${ref.id} is not known to its owner (it was freed, or belongs to an earlier session).`, {
      hint: 'Keep the ObjectRef referenced while you need the value; do not call free() on it before get().',
      ids: { objectId: ref.id },
    });
  }

  private waitSettled(id: string, deadline: number | undefined): Promise<void> {
    if (deadline === undefined) return this.s.objects.whenSettled(id);
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.s.objects.onSettled(id, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async askOwner(ref: ObjectRef, timeoutMs: number): Promise<rayts.ResolvedObject> {
    const c = this.r.ownerClient(ref.ownerAddress);
    // Wait in slices so that a dead owner is noticed; 0 means "until ready".
    for (;;) {
      const slice = timeoutMs > 0 ? timeoutMs : 30_000;
      let reply: rayts.ResolveReply;
      try {
        reply = await callUnary<rayts.IResolveRequest, rayts.ResolveReply>(
          c,
          'resolveObjects',
          { objectIds: [ref.id], timeoutMs: slice },
          this.s.o.token,
          slice + 10_000,
        );
      } catch (e) {
        if (isRayError(e) && e.code === 'CONNECTION') {
          throw new OwnerDiedError(`The owner of object ${shortId(ref.id)} at ${ref.ownerAddress} is unreachable; its objects are lost.`, {
            hint: 'Objects live as long as the process that created them; keep that driver or worker running.',
            ids: { objectId: ref.id, owner: ref.ownerAddress },
          });
        }
        throw e;
      }
      const o = reply.objects[0] as rayts.ResolvedObject | undefined;
      if (o?.ready || timeoutMs > 0) return o ?? pb.ResolvedObject.create({ objectId: ref.id, ready: false });
    }
  }

  /**
   * A ready object: inline bytes, or a pinned view of it in the local store (pulled there first when it
   * lives elsewhere). The caller releases the view (or ties it to the decoded value's lifetime).
   */
  async fetchObject(ref: ObjectRef, deadline: number | undefined): Promise<Fetched> {
    const loc = await this.resolveLocation(ref, deadline);
    if (loc.inline) return { inline: loc.inline };
    const store = this.s.o.store;
    let view = await withStoreRoom(() => store.getAsync(ref.id));
    if (!view) {
      if (!loc.location) throw this.unknownObject(ref);
      try {
        await withStoreRoom(() => this.s.pulls.pull(ref.id, loc.location!));
      } catch (e) {
        const code = isRayError(e) ? e.code : '';
        if (this.isOwned(ref) && (code === 'OBJECT_LOST' || code === 'CONNECTION') && this.hooks.objectLost(ref.id, (e as Error).message)) {
          return this.fetchObject(ref, deadline);
        }
        throw e;
      }
      const pulled = await withStoreRoom(() => store.getAsync(ref.id));
      if (!pulled) throw this.unknownObject(ref);
      // A copy pulled here is a secondary one: it goes when the last value reading it is collected
      // (the store hides it at once and frees it at the last release).
      let released = false;
      view = {
        meta: pulled.meta,
        data: pulled.data,
        release: () => {
          if (released) return;
          released = true;
          pulled.release();
          store.delete(ref.id);
        },
      };
    }
    return { view };
  }

  /** Decodes a fetched object; a stored one stays pinned while the value is reachable (zero copy). */
  static decodeFetched(f: Fetched): unknown {
    if ('inline' in f) return decodeValue(f.inline);
    const v = decodeFromStore(f.view.meta, f.view.data);
    releaseWhenCollected(v, f.view);
    return v;
  }

  async getValues(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<unknown[]> {
    return (await this.fetchAll(refs, timeoutMs)).map((f) => ObjectResolver.decodeFetched(f));
  }

  /** Objects of refs, in order; GetTimeoutError (with pending reasons) after `timeoutMs`. */
  async fetchAll(refs: readonly ObjectRef[], timeoutMs: number | undefined): Promise<Fetched[]> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const got: Fetched[] = [];
    try {
      const all = await Promise.all(
        refs.map(async (r) => {
          const f = await this.fetchObject(r, deadline);
          got.push(f);
          return f;
        }),
      );
      return all;
    } catch (e) {
      for (const f of got) if ('view' in f) f.view.release();
      if (isRayError(e) && e.code === 'GET_TIMEOUT') throw this.timeoutError(refs, timeoutMs ?? 0);
      throw e;
    }
  }

  private timeoutError(refs: readonly ObjectRef[], timeoutMs: number): GetTimeoutError {
    const pending = refs.filter((r) => {
      const e = this.s.objects.get(r.id);
      return !e || e.state === 'pending';
    });
    const reasons: string[] = [];
    for (const r of pending.slice(0, 5)) {
      const rec = this.s.tasks.get(taskIdOfObject(r.id));
      if (rec) reasons.push(`${rec.name} (task ${shortId(rec.taskId)}): ${rec.reason ?? (rec.state === 'submitted' ? `running or queued on node ${shortId(rec.nodeId ?? '')}` : rec.state)}`);
    }
    const why = reasons.length ? ` Pending: ${reasons.join('; ')}.` : '';
    return new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${pending.length} of ${refs.length} object(s).${why}`, {
      hint: reasons.some((r) => r.includes('no node')) ? 'Add a node that offers the missing resources, or change the options.' : 'Raise timeoutMs, or check `rayts status` for busy nodes.',
      ids: pending[0] ? { objectId: pending[0].id } : {},
    });
  }

  async wait(refs: readonly ObjectRef[], numReturns: number, timeoutMs: number | undefined): Promise<{ ready: ObjectRef[]; notReady: ObjectRef[] }> {
    const done = new Set<ObjectRef>();
    // Already settled owned objects need no callback; often that is enough.
    for (const r of refs) if (this.isOwned(r) && this.s.objects.isSettled(r.id)) done.add(r);
    if (done.size < numReturns) await new Promise<void>((resolve) => {
      let finished = false;
      const unsubscribe: (() => void)[] = [];
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        for (const u of unsubscribe) u();
        resolve();
      };
      const mark = (r: ObjectRef) => {
        done.add(r);
        if (done.size >= numReturns) finish();
      };
      for (const r of refs) {
        if (finished) break;
        if (done.has(r)) continue;
        if (this.isOwned(r)) unsubscribe.push(this.s.objects.onSettled(r.id, () => mark(r)));
        else {
          this.resolveLocation(r, timeoutMs === undefined ? undefined : Date.now() + timeoutMs).then(
            () => mark(r),
            (e) => {
              if (!(isRayError(e) && e.code === 'GET_TIMEOUT')) mark(r);
            },
          );
        }
      }
    });
    const ready: ObjectRef[] = [];
    const notReady: ObjectRef[] = [];
    for (const r of refs) (done.has(r) && ready.length < numReturns ? ready : notReady).push(r);
    return { ready, notReady };
  }

  /** Frees owned objects now (their ids become unknown) and drops stored copies. */
  async free(refs: readonly ObjectRef[]): Promise<void> {
    const byLocation = new Map<string, string[]>();
    for (const r of refs) {
      if (!this.isOwned(r)) continue;
      this.r.refs?.forget(r.id);
      this.r.releaseContained(r.id);
      const e = this.s.objects.delete(r.id);
      if (e?.location) {
        if (this.s.o.store.delete(r.id)) continue;
        const l = byLocation.get(e.location) ?? [];
        l.push(r.id);
        byLocation.set(e.location, l);
      }
    }
    await Promise.all(
      [...byLocation].map(([loc, ids]) => {
        const c = this.s.pulls.client(loc);
        return callUnary(c, 'freeObjects', { objectIds: ids }, this.s.o.token).catch(() => undefined);
      }),
    );
  }

  async answerResolve(req: rayts.ResolveRequest): Promise<rayts.IResolveReply> {
    const deadline = Date.now() + Math.min(Math.max(req.timeoutMs || 30_000, 1), 300_000);
    const objects = await Promise.all(
      req.objectIds.map(async (id): Promise<rayts.IResolvedObject> => {
        if (!this.s.objects.has(id)) {
          return { objectId: id, ready: true, isError: true, inline: encodeError(this.unknownObject(new ObjectRef(id as ObjectId, ''))) };
        }
        await this.waitSettled(id, deadline);
        const e = this.s.objects.get(id);
        if (!e) return { objectId: id, ready: true, isError: true, inline: encodeError(this.unknownObject(new ObjectRef(id as ObjectId, ''))) };
        if (e.state === 'pending') return { objectId: id, ready: false };
        if (e.state === 'failed') return { objectId: id, ready: true, isError: true, inline: encodeError(e.error) };
        return { objectId: id, ready: true, inline: e.inline, location: e.location ?? '', sizeBytes: e.sizeBytes };
      }),
    );
    return { objects };
  }
}
