/**
 * The rayts error taxonomy. Every error a user can see is a {@link RayError} subclass with a stable
 * `code`, the ids involved, a hint saying what to do, and (for user code) the remote stack.
 *
 * Errors cross thread and process boundaries in a wire form ({@link errorToWire} / {@link errorFromWire});
 * `instanceof` keeps working on the far side because the class is rebuilt from `code`, and
 * {@link isRayError} uses a global marker so it also works across module copies.
 */

const MARKER = Symbol.for('@samsara/ray.error');

/** The core's stable machine-readable codes. Never renamed once published. */
export type CoreErrorCode =
  | 'RAY_ERROR'
  | 'TASK_ERROR'
  | 'TASK_CANCELLED'
  | 'WORKER_CRASHED'
  | 'NODE_DIED'
  | 'ACTOR_DIED'
  | 'ACTOR_UNAVAILABLE'
  | 'OBJECT_LOST'
  | 'OWNER_DIED'
  | 'OBJECT_STORE_FULL'
  | 'SCHEDULING'
  | 'GET_TIMEOUT'
  | 'INVALID_ARGUMENT'
  | 'AUTHENTICATION'
  | 'CONNECTION'
  | 'SERIALIZATION'
  | 'NOT_INITIALIZED';

/**
 * A RayError's `code`: one of the core's codes, or a code a library or user subclass sets
 * (`'DATA_READ'`, `'SERVE_BACKPRESSURE'`…). Open on purpose: such codes cross the wire unchanged, with the
 * class name, so a driver can branch on `err.code` / `err.name` for errors thrown inside tasks.
 */
export type RayErrorCode = CoreErrorCode | (string & {});

export interface RayErrorOptions {
  cause?: unknown;
  hint?: string;
  ids?: Record<string, string>;
}

/** Base class of every rayts error. */
export class RayError extends Error {
  readonly code: RayErrorCode = 'RAY_ERROR';
  /** What to do about it, already part of `message`. */
  readonly hint?: string;
  /** Ids involved (taskId, nodeId, objectId, actorId…). */
  readonly ids: Record<string, string>;

  constructor(message: string, options: RayErrorOptions = {}) {
    super(options.hint ? `${message} ${options.hint}` : message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.hint = options.hint;
    this.ids = options.ids ?? {};
    Object.defineProperty(this, MARKER, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** True for any rayts error, including one rebuilt from another thread or another copy of this module. */
export function isRayError(e: unknown): e is RayError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
}

/** User code threw. Carries the original error's name, message and remote stack. */
export class TaskError extends RayError {
  override readonly code = 'TASK_ERROR' as const;
  /** Name of the error user code threw (e.g. "TypeError"). */
  readonly originalName: string;
  /** Message of the error user code threw. */
  readonly originalMessage: string;
  /** Stack trace captured where user code threw, on the remote worker. */
  readonly remoteStack: string;
  /** The function or method that threw. */
  readonly functionName: string;
  constructor(
    functionName: string,
    original: { name: string; message: string; stack?: string },
    options: RayErrorOptions = {},
  ) {
    super(`${functionName} threw ${original.name}: ${original.message}`, options);
    this.functionName = functionName;
    this.originalName = original.name;
    this.originalMessage = original.message;
    this.remoteStack = original.stack ?? '';
    if (this.remoteStack) this.stack = `${this.stack}\n--- remote stack ---\n${this.remoteStack}`;
  }
}

export class TaskCancelledError extends RayError {
  override readonly code = 'TASK_CANCELLED' as const;
}
export class WorkerCrashedError extends RayError {
  override readonly code = 'WORKER_CRASHED' as const;
}
export class NodeDiedError extends RayError {
  override readonly code = 'NODE_DIED' as const;
}
export class ActorDiedError extends RayError {
  override readonly code = 'ACTOR_DIED' as const;
}
export class ActorUnavailableError extends RayError {
  override readonly code = 'ACTOR_UNAVAILABLE' as const;
}
export class ObjectLostError extends RayError {
  override readonly code = 'OBJECT_LOST' as const;
}
export class OwnerDiedError extends RayError {
  override readonly code = 'OWNER_DIED' as const;
}
export class ObjectStoreFullError extends RayError {
  override readonly code = 'OBJECT_STORE_FULL' as const;
}
/** A task or actor cannot be placed. `infeasible` means no node could ever run it. */
export class SchedulingError extends RayError {
  override readonly code = 'SCHEDULING' as const;
  readonly infeasible: boolean;
  constructor(message: string, options: RayErrorOptions & { infeasible?: boolean } = {}) {
    super(message, options);
    this.infeasible = options.infeasible ?? false;
  }
}
export class GetTimeoutError extends RayError {
  override readonly code = 'GET_TIMEOUT' as const;
}
/** Bad options or arguments at a call; the message lists what is valid. */
export class InvalidArgumentError extends RayError {
  override readonly code = 'INVALID_ARGUMENT' as const;
}
export class AuthenticationError extends RayError {
  override readonly code = 'AUTHENTICATION' as const;
}
export class ConnectionError extends RayError {
  override readonly code = 'CONNECTION' as const;
}
/** A value cannot be shipped: a function that closes over outer variables, a function value, etc. */
export class SerializationError extends RayError {
  override readonly code = 'SERIALIZATION' as const;
}
export class NotInitializedError extends RayError {
  override readonly code = 'NOT_INITIALIZED' as const;
}

/** Wire form of an error: plain data that msgpackr, structured clone and protobuf bytes can carry. */
export interface ErrorWire {
  code: string;
  name: string;
  message: string;
  stack?: string;
  hint?: string;
  ids?: Record<string, string>;
  /** For TASK_ERROR: the user's original error. */
  original?: { name: string; message: string; stack?: string };
  functionName?: string;
  infeasible?: boolean;
  /** The error's `cause` when it is an Error (a chain at most {@link MAX_CAUSE_DEPTH} deep). */
  cause?: ErrorWire;
}

/** How deep a `cause` chain travels; deeper causes are dropped (a cycle must not loop forever). */
export const MAX_CAUSE_DEPTH = 8;

type Ctor = new (message: string, options?: RayErrorOptions) => RayError;
const BY_CODE: Record<string, Ctor> = {
  RAY_ERROR: RayError,
  TASK_CANCELLED: TaskCancelledError,
  WORKER_CRASHED: WorkerCrashedError,
  NODE_DIED: NodeDiedError,
  ACTOR_DIED: ActorDiedError,
  ACTOR_UNAVAILABLE: ActorUnavailableError,
  OBJECT_LOST: ObjectLostError,
  OWNER_DIED: OwnerDiedError,
  OBJECT_STORE_FULL: ObjectStoreFullError,
  SCHEDULING: SchedulingError,
  GET_TIMEOUT: GetTimeoutError,
  INVALID_ARGUMENT: InvalidArgumentError,
  AUTHENTICATION: AuthenticationError,
  CONNECTION: ConnectionError,
  SERIALIZATION: SerializationError,
  NOT_INITIALIZED: NotInitializedError,
};

/**
 * Converts any thrown value into its wire form. A RayError keeps its `code` (a library's own code
 * included), class name, ids, hint and stack; an Error `cause` travels too, as its own wire form.
 */
export function errorToWire(e: unknown, depth = 0): ErrorWire {
  let w: ErrorWire;
  if (isRayError(e)) {
    w = { code: String(e.code), name: e.name, message: e.message, stack: e.stack, ids: e.ids };
    if (e instanceof TaskError || e.code === 'TASK_ERROR') {
      const t = e as TaskError;
      w.original = { name: t.originalName, message: t.originalMessage, stack: t.remoteStack };
      w.functionName = t.functionName;
    }
    if (e instanceof SchedulingError) w.infeasible = e.infeasible;
    // The hint is already in the message; keep it separately so the rebuilt error has it too.
    if (e.hint) w.hint = e.hint;
  } else if (e instanceof Error) {
    w = { code: 'USER', name: e.name, message: e.message, stack: e.stack };
  } else {
    return { code: 'USER', name: 'Error', message: String(e) };
  }
  const cause = (e as Error).cause;
  if (cause instanceof Error && depth < MAX_CAUSE_DEPTH) w.cause = errorToWire(cause, depth + 1);
  return w;
}

/** A non-Ray error in a cause chain comes back as a plain Error with its name, message and stack. */
function plainFromWire(w: ErrorWire, depth: number): Error {
  const cause = w.cause && depth < MAX_CAUSE_DEPTH ? causeFromWire(w.cause, depth + 1) : undefined;
  const e = new Error(String(w.message ?? ''), cause !== undefined ? { cause } : undefined);
  if (w.name && w.name !== 'Error') Object.defineProperty(e, 'name', { value: String(w.name), configurable: true, writable: true });
  if (w.stack) e.stack = String(w.stack);
  return e;
}

function causeFromWire(w: ErrorWire, depth: number): Error {
  return w.code === 'USER' ? plainFromWire(w, depth) : errorFromWire(w, depth);
}

/**
 * Rebuilds a typed error from its wire form: a known code gives its RayError subclass; any other code
 * (a library's `DATA_READ`, a user's own) gives a RayError that keeps that `code` and the original class
 * `name`. Message, ids, hint, stack and the `cause` chain are kept.
 */
export function errorFromWire(w: ErrorWire, depth = 0): RayError {
  const cause = w.cause && depth < MAX_CAUSE_DEPTH ? causeFromWire(w.cause, depth + 1) : undefined;
  const opts: RayErrorOptions = { ids: w.ids, ...(cause !== undefined ? { cause } : {}) };
  let e: RayError;
  if (w.code === 'TASK_ERROR' && w.original) {
    e = new TaskError(w.functionName ?? 'task', w.original, opts);
  } else {
    const Cls = BY_CODE[w.code];
    // The message already includes the hint; avoid appending it twice.
    e = Cls === SchedulingError ? new SchedulingError(w.message, { ...opts, infeasible: w.infeasible }) : new (Cls ?? RayError)(w.message, opts);
    if (!Cls && w.code !== 'USER' && typeof w.code === 'string' && w.code) {
      // A code the core does not know (a library's or user's subclass): keep it, and the class name.
      Object.defineProperty(e, 'code', { value: w.code, enumerable: true, configurable: true, writable: false });
      if (w.name) Object.defineProperty(e, 'name', { value: String(w.name), configurable: true, writable: true });
    }
  }
  if (w.hint) Object.defineProperty(e, 'hint', { value: w.hint });
  if (w.stack && !(e instanceof TaskError)) e.stack = w.stack;
  return e;
}

/** Wraps whatever user code threw as a TaskError naming the function. */
export function toTaskError(functionName: string, thrown: unknown, ids?: Record<string, string>): RayError {
  if (isRayError(thrown)) return thrown;
  if (thrown instanceof Error) {
    return new TaskError(functionName, { name: thrown.name, message: thrown.message, stack: thrown.stack }, { ids });
  }
  return new TaskError(functionName, { name: 'Error', message: String(thrown) }, { ids });
}
