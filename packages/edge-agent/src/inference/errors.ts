/**
 * Errors of the on-device inference runtime. Standalone on purpose: the runtime runs on cameras and in
 * workers that may not load the rest of rayts, so these classes extend nothing from other packages.
 *
 * Every error has a stable `code` and a message that says what failed and what to do. A global marker makes
 * {@link isInferenceError} work across module copies.
 */

const MARKER = Symbol.for('@samsara/ray-edge.inference-error');

/** Stable machine-readable codes. Never renamed once published. */
export type InferenceErrorCode =
  | 'INFERENCE_INVALID_MODEL'
  | 'INFERENCE_INVALID_INPUT'
  | 'INFERENCE_INVALID_OPTIONS'
  | 'INFERENCE_CALIBRATION'
  | 'MODEL_FORMAT';

/** Base class of every inference-runtime error. */
export class InferenceError extends Error {
  /** Stable machine-readable code. */
  readonly code: InferenceErrorCode;

  constructor(code: InferenceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * Why a serialised model was rejected:
 * - `bad-magic`: the bytes are not an rayts int8 model at all;
 * - `unsupported-version`: written by a newer (or unknown) format version;
 * - `truncated`: fewer bytes than the header or a section announces;
 * - `checksum-mismatch`: the payload's CRC-32 differs from the header's (corrupted in transit or storage);
 * - `invalid-structure`: the payload decodes but describes an impossible model (bad shapes, scales…);
 * - `trailing-bytes`: more bytes than the header announces.
 */
export type ModelFormatReason =
  | 'bad-magic'
  | 'unsupported-version'
  | 'truncated'
  | 'checksum-mismatch'
  | 'invalid-structure'
  | 'trailing-bytes';

/** A serialised int8 model could not be decoded. `reason` says which check failed. */
export class ModelFormatError extends InferenceError {
  override readonly code = 'MODEL_FORMAT' as const;
  /** Which validation step rejected the bytes. */
  readonly reason: ModelFormatReason;

  constructor(reason: ModelFormatReason, message: string, options?: { cause?: unknown }) {
    super('MODEL_FORMAT', message, options);
    this.reason = reason;
  }
}

/** True for any inference-runtime error, including one from another copy of this module. */
export function isInferenceError(e: unknown): e is InferenceError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
}
