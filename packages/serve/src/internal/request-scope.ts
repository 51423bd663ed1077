/**
 * The request a replica's code is serving, so that handle calls it makes carry the same request id
 * (as in Ray Serve: one id from the proxy through every deployment of a composition, in each one's
 * logs and errors). Calls from outside a request (a driver) get a fresh id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` (user code answering request `requestId`) with the request id in scope. */
export function inRequest<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

/** The id for a handle call made now: the request being served, or a fresh one. */
export function requestIdForCall(): string {
  return scope.getStore() ?? randomUUID();
}
