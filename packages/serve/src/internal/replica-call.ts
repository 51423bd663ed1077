/**
 * One request to one replica, by the fastest path this process has to it: the direct connection
 * (direct/) when the replica is on this machine and the arguments are plain values, else the core's
 * actor call. Replies the replica held (not plain values, thrown errors) are taken through the core,
 * so callers see the same values and error types either way.
 */
import { get, type ObjectRef } from '@samsara/ray';
import { DirectClient, DirectUnavailableError, type DirectReply } from './direct/direct-client.js';
import { Plain, plainKind } from './direct/direct-wire.js';
import type { ReplicaSlot } from './router-client.js';
import { TAKE_METHOD, type HttpRequestData, type HttpResponseData } from './spec.js';

/** A sent request: its result, and its ObjectRef when it went through the core. */
export interface ReplicaCall<T> {
  readonly ref?: ObjectRef<T>;
  readonly done: Promise<T>;
}

function take<T>(slot: ReplicaSlot, r: DirectReply, requestId: string): T | Promise<T> {
  if (!r.held) return r.value as T;
  return takeHeld<T>(slot, r.holdId, requestId);
}

/** The reply the replica held under `holdId` (not plain data, or a thrown error), through the core. */
export function takeHeld<T>(slot: ReplicaSlot, holdId: number, requestId: string): Promise<T> {
  return get(slot.handle.__serve_call.remote(TAKE_METHOD, { requestId }, holdId) as ObjectRef<T>);
}

/** `method(...args)` on the slot's replica (`__serve_call`). */
export function callReplica<T>(slot: ReplicaSlot, method: string, args: unknown[], requestId: string): ReplicaCall<T> {
  const direct = DirectClient.get();
  const viaCore = (): ReplicaCall<T> => {
    const ref = slot.handle.__serve_call.remote(method, { requestId }, ...args) as ObjectRef<T>;
    return { ref, done: get(ref) };
  };
  if (!direct.usable(slot.replicaId, slot.endpoint)) return viaCore();
  const kind = plainKind(args);
  if (kind === Plain.no) return viaCore();
  const ep = slot.endpoint;
  const done = new Promise<T>((resolve, reject) => {
    direct.sendCall(slot.replicaId, ep, method, args, requestId, (err, held, value) => {
      if (err instanceof DirectUnavailableError) {
        direct.markUnreachable(slot.replicaId);
        viaCore().done.then(resolve, reject);
      } else if (err) reject(err);
      else if (held) takeHeld<T>(slot, value as number, requestId).then(resolve, reject);
      else resolve(value as T);
    }, kind === Plain.yes);
  });
  return { done };
}

/** An HTTP request on the slot's replica (`__serve_http`). */
export async function httpReplica(slot: ReplicaSlot, data: HttpRequestData, requestId: string): Promise<HttpResponseData> {
  const direct = DirectClient.get();
  const viaCore = (): Promise<HttpResponseData> => get(slot.handle.__serve_http.remote(data, { requestId }) as ObjectRef<HttpResponseData>);
  if (!direct.usable(slot.replicaId, slot.endpoint)) return viaCore();
  try {
    return await take<HttpResponseData>(slot, await direct.http(slot.replicaId, slot.endpoint, data, requestId), requestId);
  } catch (e) {
    if (!(e instanceof DirectUnavailableError)) throw e;
    direct.markUnreachable(slot.replicaId);
    return viaCore();
  }
}
