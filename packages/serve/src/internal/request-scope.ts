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

/**
 * The items of `make()` (a generator method's iterable) with the request id in scope when it is made
 * and for every step of its body, which runs only as the caller asks for items.
 */
export async function* scoped<T>(requestId: string, make: () => AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  const src = inRequest(requestId, make);
  const it: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in src ? (src as AsyncIterable<T>)[Symbol.asyncIterator]() : (src as Iterable<T>)[Symbol.iterator]();
  let finished = false;
  try {
    for (;;) {
      const r = await inRequest(requestId, () => it.next());
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } catch (e) {
    finished = true;
    throw e;
  } finally {
    // Stopped early (the client went away, a cancel): the body's own finally blocks run.
    if (!finished) await inRequest(requestId, () => it.return?.());
  }
}
