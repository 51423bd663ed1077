/**
 * Serve's typed errors. They extend the core's RayError (stable `code`, ids, hint). The core's
 * RayErrorCode union is closed, so the Serve codes are set on the instance (`code` reads
 * 'SERVE_…' at run time); `isRayError()` holds for all of them.
 */
import { RayError } from '@samsara/ray';

type Opts = { hint?: string; ids?: Record<string, string>; cause?: unknown };

/** Codes of the errors below. */
export type ServeErrorCode =
  | 'SERVE_ERROR'
  | 'SERVE_BACKPRESSURE'
  | 'SERVE_DEPLOY_FAILED'
  | 'SERVE_NOT_FOUND'
  | 'SERVE_HTTP'
  | 'SERVE_BATCH_SIZE';

/** Base of every Serve error: bad options, unknown application, a controller that cannot be reached. */
export class ServeError extends RayError {
  constructor(message: string, options: Opts = {}, code: ServeErrorCode = 'SERVE_ERROR') {
    super(message, options);
    (this as unknown as { code: string }).code = code;
  }
  /** The Serve code ('SERVE_…'); same value as `code`. */
  get serveCode(): ServeErrorCode {
    return (this as unknown as { code: ServeErrorCode }).code;
  }
}

/**
 * A deployment is overloaded: every replica has `maxOngoingRequests` running and `maxQueuedRequests`
 * wait already. Over HTTP this is a 503 with `Retry-After`.
 */
export class BackPressureError extends ServeError {
  constructor(
    readonly deployment: string,
    readonly numQueuedRequests: number,
    readonly maxQueuedRequests: number,
  ) {
    super(
      `Deployment ${deployment} is overloaded: ${numQueuedRequests} requests already queued (maxQueuedRequests ${maxQueuedRequests}).`,
      { hint: 'Retry later, raise maxQueuedRequests or add replicas (numReplicas / autoscalingConfig).', ids: { deployment } },
      'SERVE_BACKPRESSURE',
    );
  }
}

/** A deployment's replicas could not start (the constructor threw, or the class cannot ship). */
export class DeployFailedError extends ServeError {
  constructor(readonly app: string, readonly detail: string) {
    super(`Application ${app} failed to deploy: ${detail}`, { hint: 'Fix the error and run serve.run() again; serve.status() shows it too.', ids: { app } }, 'SERVE_DEPLOY_FAILED');
  }
}

/** A batched function returned a different number of results than it got inputs. */
export class BatchSizeError extends ServeError {
  constructor(got: number, want: number) {
    super(`Batched function returned ${got} results for ${want} inputs; it must return one result per input, in order.`, {}, 'SERVE_BATCH_SIZE');
  }
}
