/**
 * The JSON Schema of a workflow file (docs/workflow.md explains each key). Checked with ajv before
 * anything else; the checks a schema cannot express (op types, references, cycles, cron syntax, the
 * args of each op against that op's own schema) follow in load.ts.
 */
import { Ajv, type ValidateFunction } from 'ajv';

/** Op names: letters, digits and `_`, not starting with a digit (they appear in `{op.field}`). */
export const OP_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

const webhook = {
  type: 'object',
  required: ['webhook'],
  additionalProperties: false,
  properties: {
    webhook: { type: 'string', pattern: '^https?://' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

const retries = {
  oneOf: [
    { type: 'integer', minimum: 0 },
    {
      type: 'object',
      additionalProperties: false,
      required: ['count'],
      properties: {
        count: { type: 'integer', minimum: 0 },
        initialIntervalS: { type: 'number', exclusiveMinimum: 0 },
        backoffCoefficient: { type: 'number', minimum: 1 },
        maximumIntervalS: { type: 'number', exclusiveMinimum: 0 },
      },
    },
  ],
} as const;

export const WORKFLOW_SCHEMA = {
  $id: 'https://samsara.dev/schemas/rayts-workflow.json',
  type: 'object',
  required: ['name', 'ops'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    description: { type: 'string' },
    schedule: {
      oneOf: [
        { type: 'string' },
        {
          type: 'object',
          required: ['cron'],
          additionalProperties: false,
          properties: {
            cron: { type: 'string' },
            timezone: { type: 'string' },
            concurrencyPolicy: { enum: ['forbid', 'allow'] },
            catchUp: { type: 'boolean' },
            maxCatchUp: { type: 'integer', minimum: 1 },
          },
        },
      ],
    },
    imports: { type: 'array', items: { type: 'string', minLength: 1 } },
    alerts: {
      type: 'object',
      additionalProperties: false,
      properties: { onFailure: webhook, onSuccess: webhook },
    },
    ops: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: OP_NAME, not: { const: 'context' } },
      additionalProperties: {
        type: 'object',
        required: ['op'],
        additionalProperties: false,
        properties: {
          op: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          args: { type: 'object' },
          upstream: { type: 'array', items: { type: 'string' }, uniqueItems: true },
          retries,
          timeoutS: { type: 'number', exclusiveMinimum: 0 },
          always: { type: 'boolean' },
        },
      },
    },
  },
} as const;

/** One ajv for the package: every error, no strict-mode complaints about user schemas' keywords. */
export const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });

let compiled: ValidateFunction | undefined;
export function workflowValidator(): ValidateFunction {
  return (compiled ??= ajv.compile(WORKFLOW_SCHEMA));
}
