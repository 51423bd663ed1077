import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkflow, registerOp, WorkflowScheduler, RunStore, type RunRecord } from '@samsara/ray-workflow';
import { startCli, tempWorkspace } from './helpers.js';

let releaseHold: () => void = () => {};
const held = new Promise<void>((r) => (releaseHold = r));
registerOp('hold', async () => {
  await held;
  return {};
});

const ws = tempWorkspace();

function scheduleJournal(name: string, file: string): string {
  return join(ws.home, 'schedules', `${name}-${createHash('sha256').update(file).digest('hex').slice(0, 8)}.jsonl`);
}

describe('WorkflowScheduler - cron', () => {
  it('a seconds-level schedule fires a run', async () => {
    const def = await loadWorkflow(ws.write('every-second.yaml', 'name: every_second\nschedule: "* * * * * *"\nops:\n  a: { op: noop, args: { value: "{context.run_date}" } }\n'));
    let ended: (r: RunRecord) => void = () => {};
    const first = new Promise<RunRecord>((r) => (ended = r));
    const s = new WorkflowScheduler(def, { home: ws.home, onRunEnd: (r) => ended(r) });
    await s.start();
    const run = await first;
    await s.close();
    expect(run).toMatchObject({ status: 'success', trigger: 'schedule', workflow: 'every_second' });
    expect(run.scheduledAt! % 1000).toBe(0);
    expect(run.ops.a.output).toEqual({ value: new Date(run.scheduledAt!).toISOString().slice(0, 10) });
    expect(new RunStore(ws.home).list({ workflow: 'every_second' }).map((r) => r.runId)).toContain(run.runId);
  });

  it('skips a fire time while a run is still going (concurrencyPolicy forbid)', async () => {
    const def = await loadWorkflow(ws.write('overlap.yaml', 'name: overlap\nschedule: "* * * * * *"\nops:\n  h: { op: hold }\n'));
    const started: string[] = [];
    let skipped: (active: readonly string[]) => void = () => {};
    const firstSkip = new Promise<readonly string[]>((r) => (skipped = r));
    const s = new WorkflowScheduler(def, { home: ws.home, onRunStart: (id) => started.push(id), onSkip: (_at, active) => skipped(active) });
    await s.start();
    const active = await firstSkip;
    expect(started).toHaveLength(1);
    expect(active).toEqual(started);
    releaseHold();
    await s.close();
    const journal = readFileSync(scheduleJournal('overlap', def.file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(journal.filter((e) => e.type === 'skipped').length).toBeGreaterThanOrEqual(1);
  });

  it('catches up missed runs only when configured', async () => {
    const text = (catchUp: boolean) => `name: catchup_${catchUp}\nschedule: { cron: "0 * * * * *", catchUp: ${catchUp}, maxCatchUp: 2 }\nops:\n  a: { op: noop }\n`;
    for (const catchUp of [true, false]) {
      const def = await loadWorkflow(ws.write(`catchup-${catchUp}.yaml`, text(catchUp)));
      // The last recorded fire time was five minutes ago: four fire times were missed since.
      const last = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
      mkdirSync(join(ws.home, 'schedules'), { recursive: true });
      writeFileSync(scheduleJournal(def.name, def.file), JSON.stringify({ t: last, type: 'fired', scheduledAt: last, runId: 'wr_000000000000' }) + '\n');
      const starts: { trigger: string; at: number }[] = [];
      const ends: Promise<void>[] = [];
      let end: () => void = () => {};
      ends.push(new Promise((r) => (end = r)));
      let endCount = 0;
      const s = new WorkflowScheduler(def, {
        home: ws.home,
        onRunStart: (_id, at, trigger) => starts.push({ trigger, at: at.getTime() }),
        onRunEnd: () => ++endCount === 2 && end(),
      });
      await s.start();
      if (catchUp) {
        await ends[0];
        // The latest two of the missed minutes, oldest first.
        expect(starts.slice(0, 2).map((x) => x.trigger)).toEqual(['catch_up', 'catch_up']);
        expect(starts[1].at - starts[0].at).toBe(60_000);
        expect(starts[1].at).toBeGreaterThan(last + 2 * 60_000);
        expect(starts[1].at).toBeLessThanOrEqual(Date.now());
      } else {
        expect(starts).toEqual([]);
      }
      await s.close();
    }
  });
});

describe('rayts workflow schedule - CLI', () => {
  it('starts runs on time until Ctrl-C', async () => {
    const file = ws.write('cli-schedule.yaml', 'name: cli_schedule\nschedule: "*/2 * * * * *"\nops:\n  a: { op: shell, args: { command: [node, -e, "console.log(1 + 1)"] } }\n');
    const cli = startCli(['schedule', file], { RAYTS_WORKFLOW_HOME: ws.home });
    await cli.waitFor(/scheduler for cli_schedule \(\*\/2 \* \* \* \* \*\) started/);
    const runId = (await cli.waitFor(/run (wr_[0-9a-f]{12}) success/))[1];
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const run = new RunStore(ws.home).get(runId);
    expect(run).toMatchObject({ status: 'success', trigger: 'schedule' });
    expect(run.ops.a.output).toMatchObject({ stdout: '2', exitCode: 0 });
  });
});
