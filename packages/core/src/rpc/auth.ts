/**
 * Token authentication for every RPC, and the guard that keeps a daemon alive whatever a peer sends.
 *
 * Every client call carries `authorization: Bearer <token>`. Every server handler is wrapped by
 * {@link guardService}: a missing or wrong token is answered with UNAUTHENTICATED before the handler
 * runs, and a handler that throws (bad input) answers INVALID_ARGUMENT/INTERNAL instead of crashing.
 */
import * as grpc from '@grpc/grpc-js';
import { timingSafeEqual } from 'node:crypto';
import { grpcClientErrors, grpcServerErrors } from '../metrics/node-metrics.js';
import { probeTlsPeer, tlsMismatchError } from './tls-diagnosis.js';
import { AuthenticationError, ConnectionError, RayError, isRayError, InvalidArgumentError } from '@samsara/ray-common';

export function authMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

function tokenOk(md: grpc.Metadata, token: string): boolean {
  const v = md.get('authorization')[0];
  if (typeof v !== 'string' || !v.startsWith('Bearer ')) return false;
  const a = Buffer.from(v.slice(7));
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const AUTH_FAILED = 'rayts: authentication failed: missing or wrong cluster token.';

function statusOf(e: unknown): { code: grpc.status; details: string } {
  if (isRayError(e) && e.code === 'INVALID_ARGUMENT') return { code: grpc.status.INVALID_ARGUMENT, details: e.message };
  if (isRayError(e)) return { code: grpc.status.FAILED_PRECONDITION, details: `${e.code}: ${e.message}` };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}


/**
 * Wraps each handler of a service implementation with the token check and an exception guard.
 * `onError` sees handler failures (for logging); it must not throw. `onAuthenticated` hears the peer
 * (`call.getPeer()`) of every call that passed the token check (the connection gate keeps it).
 */
export function guardService(
  def: grpc.ServiceDefinition,
  impl: Record<string, (...a: never[]) => unknown>,
  token: string,
  onError: (method: string, e: unknown) => void,
  onAuthenticated: (peer: string) => void = () => undefined,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(def)) {
    const h = impl[name] as unknown as (call: any, cb?: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!h) continue;
    if (!m.requestStream && !m.responseStream) {
      out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (!tokenOk(call.metadata, token)) {
          countServerError(name, grpc.status.UNAUTHENTICATED);
          cb({ code: grpc.status.UNAUTHENTICATED, details: AUTH_FAILED });
          return;
        }
        onAuthenticated(call.getPeer());
        try {
          const r = h(call) as Promise<unknown>;
          Promise.resolve(r).then(
            (v) => cb(null, v ?? {}),
            (e) => {
              onError(name, e);
              const st = statusOf(e);
              countServerError(name, st.code);
              cb(st);
            },
          );
        } catch (e) {
          onError(name, e);
          const st = statusOf(e);
          countServerError(name, st.code);
          cb(st);
        }
      };
    } else {
      out[name] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
        // A client that goes away mid-stream must never surface as an unhandled 'error' event.
        call.on('error', (e: unknown) => onError(name, e));
        if (!tokenOk(call.metadata, token)) {
          countServerError(name, grpc.status.UNAUTHENTICATED);
          call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: AUTH_FAILED });
          return;
        }
        onAuthenticated(call.getPeer());
        try {
          const r = h(call);
          if (r && typeof (r as Promise<unknown>).then === 'function') {
            (r as Promise<unknown>).catch((e) => {
              onError(name, e);
              countServerError(name, statusOf(e).code);
              try {
                call.emit('error', statusOf(e));
              } catch {
                /* stream already closed */
              }
            });
          }
        } catch (e) {
          onError(name, e);
          call.emit('error', statusOf(e));
        }
      }) as grpc.UntypedHandleCall;
    }
  }
  return out;
}

const tokenSources = new Map<string, string>();

/**
 * Records where this process's token for the cluster at `address` came from (a session file, RAYTS_TOKEN,
 * --token), so that a refusal says which one was used — with two clusters on one machine, the session
 * picked is the first thing to check.
 */
export function noteTokenSource(address: string, source: string): void {
  tokenSources.set(plainTarget(address), source);
}

/** A channel target without its resolver scheme ("dns:127.0.0.1:6380" → "127.0.0.1:6380"). */
function plainTarget(address: string): string {
  return address.replace(/^dns:(\/\/\/)?/, '');
}

function countServerError(method: string, code: grpc.status): void {
  grpcServerErrors.inc({ method, code: grpc.status[code] ?? String(code) });
}

/** Maps a grpc-js client error to a typed rayts error. */
export function fromGrpcError(e: unknown, what: string, address: string): RayError {
  const err = e as grpc.ServiceError;
  if (typeof err?.code === 'number') grpcClientErrors.inc({ code: grpc.status[err.code] ?? String(err.code) });
  if (err?.code === grpc.status.UNAUTHENTICATED) {
    const src = tokenSources.get(plainTarget(address));
    return new AuthenticationError(`${what}: the cluster at ${address} rejected this process's token${src ? ` (read from ${src})` : ''}.`, {
      hint: 'Set RAYTS_TOKEN (or --token) to the token in the head\'s session directory (<session>/token), or run on the head machine where it is read from the session.',
      ids: { address },
    });
  }
  if (err?.code === grpc.status.INVALID_ARGUMENT) {
    return new InvalidArgumentError(`${what}: ${err.details}`, { ids: { address } });
  }
  const mismatch = err?.code === grpc.status.UNAVAILABLE ? tlsMismatchError(address, String(err.details ?? '')) : undefined;
  if (mismatch) return mismatch;
  if (err?.code === grpc.status.UNAVAILABLE || err?.code === grpc.status.DEADLINE_EXCEEDED) {
    return new ConnectionError(`${what}: cannot reach ${address} (${err.details}).`, {
      hint: 'Check that the process at that address is running (rayts status) and that the address is right.',
      ids: { address },
    });
  }
  return new RayError(`${what} failed at ${address}: ${err?.details ?? (e as Error)?.message ?? String(e)}`, { ids: { address } });
}

/** Promise form of a unary call with a deadline. */
export function callUnary<Req, Res>(
  client: grpc.Client,
  name: string,
  req: Req,
  token: string,
  timeoutMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    fn.call(
      client,
      req,
      authMetadata(token),
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res: Res) => {
        if (!err) resolve(res);
        else if (err.code === grpc.status.UNAVAILABLE) {
          // A plaintext process talking to a TLS cluster sees only "unavailable": ask the peer once.
          const target = client.getChannel().getTarget().replace(/^dns:/, '');
          void probeTlsPeer(target).then((e) => reject(e ?? fromGrpcError(err, name, target)));
        } else reject(fromGrpcError(err, name, client.getChannel().getTarget()));
      },
    );
  });
}
