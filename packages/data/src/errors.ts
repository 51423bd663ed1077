/**
 * Typed errors of @samsara/ray-data. Each is a RayError with a stable `code` (prefixed `DATA_`), the ids
 * involved (operator, block, row, path) and a hint. They are thrown inside tasks and actors, cross the
 * wire as plain RayErrors carrying the code, and are rebuilt as these classes at the consumer by
 * {@link retype}, so `instanceof` works where the user iterates.
 */
import { RayError, isRayError, type RayErrorCode } from '@samsara/ray';

interface DataErrorOptions {
  cause?: unknown;
  hint?: string;
  ids?: Record<string, string>;
}

/** Base class of every Data error. */
export class DataError extends RayError {
  override readonly code: RayErrorCode = 'DATA_ERROR' as RayErrorCode;
  constructor(message: string, options: DataErrorOptions = {}) {
    super(message, options);
    // The core rebuilds unknown codes as plain RayErrors but keeps ids: carry the class there too.
    Object.defineProperty(this, 'ids', { value: { ...this.ids, dataError: new.target.name }, enumerable: true });
  }
}

/** A user function (map, filter, flatMap, mapBatches, addColumn) threw; names the operator, block and row. */
export class UserCodeError extends DataError {
  override readonly code = 'DATA_USER_CODE' as RayErrorCode;
}

/** A path matched no file, a file could not be read, or its content is malformed (corrupt Parquet, bad CSV row). */
export class DataReadError extends DataError {
  override readonly code = 'DATA_READ' as RayErrorCode;
}

/** Writing a block to a file failed. */
export class DataWriteError extends DataError {
  override readonly code = 'DATA_WRITE' as RayErrorCode;
}

/** A column named by the user does not exist in the data. */
export class ColumnNotFoundError extends DataError {
  override readonly code = 'DATA_COLUMN_NOT_FOUND' as RayErrorCode;
}

/** DuckDB refused a query: its message, and the position (0-based character offset) when it gave one. */
export class SqlError extends DataError {
  override readonly code = 'DATA_SQL' as RayErrorCode;
  /** Character offset in the query text where DuckDB located the error, when known. */
  readonly position?: number;
  constructor(message: string, options: DataErrorOptions & { position?: number } = {}) {
    super(message, options);
    const pos = options.position ?? (options.ids?.position !== undefined ? Number(options.ids.position) : undefined);
    if (pos !== undefined && Number.isFinite(pos)) this.position = pos;
  }
}

const BY_NAME: Record<string, new (m: string, o?: DataErrorOptions) => DataError> = {
  DataError,
  UserCodeError,
  DataReadError,
  DataWriteError,
  ColumnNotFoundError,
  SqlError,
};

/**
 * Rebuilds a Data error that crossed a task or actor boundary (it arrives as a RayError carrying our
 * code) as its class; a TaskError whose original was one of ours is unwrapped the same way. Anything
 * else is returned unchanged.
 */
export function retype(e: unknown): unknown {
  if (!isRayError(e)) return e;
  if (e instanceof DataError) return e;
  const cls = BY_NAME[e.ids?.dataError ?? ''];
  if (cls) {
    const hint = e.hint;
    const msg = hint && e.message.endsWith(` ${hint}`) ? e.message.slice(0, -hint.length - 1) : e.message;
    const { dataError: _d, ...ids } = e.ids;
    const out = new cls(msg, { ids, hint });
    if (e.stack) out.stack = e.stack;
    return out;
  }
  return e;
}
