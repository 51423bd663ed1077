// Custom ops for pipeline.yaml: registered by name, referred to by name in the YAML.
import { registerOp } from '@samsara/ray-workflow';

const day = (d) => d.toISOString().slice(0, 10);

// The run's date window: the `days` days before the run date (as the source platform's get_run_dates).
registerOp(
  'run_dates',
  ({ days }, ctx) => {
    const end = new Date(`${ctx.runDate}T00:00:00Z`);
    const start = new Date(end.getTime() - days * 86_400_000);
    return { start_date: day(start), end_date: day(end) };
  },
  {
    schema: {
      args: { type: 'object', required: ['days'], additionalProperties: false, properties: { days: { type: 'integer', minimum: 1 } } },
      outputs: { type: 'object', properties: { start_date: { type: 'string' }, end_date: { type: 'string' } } },
    },
  },
);

// Publishes a batch: here it writes a manifest file next to the workflow (a real one would call a labeling service).
registerOp(
  'publish',
  async ({ batch_name, rows, out_dir }, ctx) => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join, resolve } = await import('node:path');
    const dir = resolve(ctx.workflowDir, out_dir ?? 'published');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${batch_name}.json`);
    writeFileSync(file, JSON.stringify({ batch_name, rows, run_id: ctx.runId }, null, 2));
    ctx.log(`published ${rows} rows as ${batch_name} to ${file}`);
    return { batch_name, file };
  },
  {
    schema: {
      args: {
        type: 'object',
        required: ['batch_name'],
        additionalProperties: false,
        properties: { batch_name: { type: 'string' }, rows: { type: 'integer' }, out_dir: { type: 'string' } },
      },
      outputs: { type: 'object', properties: { batch_name: { type: 'string' }, file: { type: 'string' } } },
    },
  },
);
