/**
 * The op registry: YAML names an op by its type (`op: ray_job`), and this maps the name to the function
 * that runs it plus its schema (which arguments it takes, which outputs it returns). Built-ins are
 * registered at import; custom ops with {@link registerOp} from a module the workflow lists under
 * `imports:`. The registry lives on `globalThis` so that a second copy of this package (a module that
 * resolved it from elsewhere) registers into the same one.
 */
import { InvalidArgumentError } from '@samsara/ray';
import type { ValidateFunction } from 'ajv';
import { ajv } from '../spec/schema.js';
import type { RunServices } from '../run/services.js';

/** A JSON Schema, as ajv takes it. */
export type JsonSchema = Record<string, unknown>;

/** What an op receives besides its arguments. */
export interface OpContext {
  readonly runId: string;
  /** The run's logical date, `YYYY-MM-DD` (the scheduled time's date for scheduled runs). */
  readonly runDate: string;
  /** The workflow's `name`. */
  readonly workflow: string;
  /** This op's name in the workflow (`dates`), not its type. */
  readonly opName: string;
  /** 1 for the first try, 2 for the first retry… */
  readonly attempt: number;
  /** The directory of the workflow file (relative paths in args are relative to it). */
  readonly workflowDir: string;
  /** Aborted when the op times out or the run is cancelled: stop and clean up. */
  readonly signal: AbortSignal;
  /** Appends a line to the op's log (stored with the run, shown by `rayts workflow show`). */
  log(line: string): void;
}

/** An op: takes its (interpolated, validated) arguments and returns its outputs. */
export type OpFunction<A = any, O = unknown> = (args: A, ctx: OpContext) => O | Promise<O>;

/** Schemas of an op, both optional. */
export interface OpSchema {
  /** JSON Schema of `args` (an object schema). Checked at load (required keys, types of literal values) and before each attempt. */
  readonly args?: JsonSchema;
  /**
   * JSON Schema of the output. When it is an object schema with `properties` (and not
   * `additionalProperties: true`), references to other fields fail at load; the output is checked after the op.
   */
  readonly outputs?: JsonSchema;
}

/** Options of {@link registerOp}. */
export interface RegisterOpOptions {
  readonly schema?: OpSchema;
  readonly description?: string;
}

/** An op as the registry holds it. */
export interface OpDefinition {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly schema: OpSchema;
  /** The output fields a reference may name, or `undefined` when the op does not say (any field). */
  readonly outputNames: readonly string[] | undefined;
  readonly validateArgs?: ValidateFunction;
  readonly validateOutputs?: ValidateFunction;
  readonly run: (args: any, ctx: OpContext, services: RunServices) => unknown;
}

const KEY = Symbol.for('@samsara/ray-workflow.registry');
const registry: Map<string, OpDefinition> = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Map()) as Map<string, OpDefinition>;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const OPTION_KEYS = ['schema', 'description'];

function define(name: string, run: OpDefinition['run'], options: RegisterOpOptions, builtin: boolean): OpDefinition {
  const schema = options.schema ?? {};
  for (const k of Object.keys(schema)) {
    if (k !== 'args' && k !== 'outputs') throw new InvalidArgumentError(`registerOp(${JSON.stringify(name)}): unknown schema key ${JSON.stringify(k)}; the keys are args, outputs.`);
  }
  const compile = (s: JsonSchema | undefined, what: string) => {
    if (!s) return undefined;
    try {
      return ajv.compile(s);
    } catch (e) {
      throw new InvalidArgumentError(`registerOp(${JSON.stringify(name)}): schema.${what} is not a valid JSON Schema: ${(e as Error).message}`, { cause: e });
    }
  };
  const out = schema.outputs as { properties?: Record<string, unknown>; additionalProperties?: unknown } | undefined;
  const outputNames = out?.properties && out.additionalProperties !== true ? Object.keys(out.properties) : undefined;
  return Object.freeze({
    name,
    description: options.description ?? '',
    builtin,
    schema,
    outputNames: outputNames ? Object.freeze(outputNames) : undefined,
    validateArgs: compile(schema.args, 'args'),
    validateOutputs: compile(schema.outputs, 'outputs'),
    run,
  });
}

/**
 * Registers a custom op under `name`, for workflow files to use as `op: name`. Call it at the top level
 * of a module the workflow lists under `imports:`. Registering a name again replaces the op (a module
 * loaded twice is harmless); built-in names cannot be replaced.
 *
 * @example
 * registerOp('run_dates', async ({ days }, ctx) => ({ start_date: '2024-01-01', end_date: '2024-01-08' }), {
 *   schema: {
 *     args: { type: 'object', required: ['days'], properties: { days: { type: 'integer', minimum: 1 } } },
 *     outputs: { type: 'object', properties: { start_date: { type: 'string' }, end_date: { type: 'string' } } },
 *   },
 * });
 * @throws InvalidArgumentError for a bad name, a built-in name, a non-function, unknown option keys or an invalid schema.
 */
export function registerOp<A = any, O = unknown>(name: string, fn: OpFunction<A, O>, options: RegisterOpOptions = {}): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidArgumentError(`registerOp: the name must match ${NAME}, got ${JSON.stringify(name)}.`);
  if (typeof fn !== 'function') throw new InvalidArgumentError(`registerOp(${JSON.stringify(name)}): the op must be a function, got ${typeof fn}.`);
  for (const k of Object.keys(options ?? {})) {
    if (!OPTION_KEYS.includes(k)) throw new InvalidArgumentError(`registerOp(${JSON.stringify(name)}): unknown option ${JSON.stringify(k)}; the options are ${OPTION_KEYS.join(', ')}.`);
  }
  if (registry.get(name)?.builtin) throw new InvalidArgumentError(`registerOp: ${JSON.stringify(name)} is a built-in op and cannot be replaced.`, { hint: 'Register your op under another name.' });
  registry.set(name, define(name, (args, ctx) => fn(args as A, ctx), options, false));
}

/** Registers a built-in (internal). */
export function registerBuiltin(name: string, run: OpDefinition['run'], options: RegisterOpOptions): void {
  registry.set(name, define(name, run, options, true));
}

/** The op registered under `name`, if any. */
export function getOp(name: string): OpDefinition | undefined {
  return registry.get(name);
}

/** Every registered op name, sorted. */
export function opNames(): string[] {
  return [...registry.keys()].sort();
}
