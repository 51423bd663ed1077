/**
 * kill(handle, { noRestart: false }) on a CLI cluster: as in Ray, an actor with restarts left is
 * started again by its creator (state reset, one restart spent, `numRestarts` in `rayts list actors`
 * goes up) and answers calls; without restarts left it is dead. A kill from another process (a task)
 * restarts it too: the creator learns it from the head's view.
 */
import { describe, expect, it } from 'vitest';
import { actor, get, kill, ActorDiedError } from '@samsara/ray';
import { until, useCliCluster } from './helpers/cli-cluster.js';
import { killFromTask } from './fixtures/kill-task.js';

const env = useCliCluster({ numCpus: 1 }, [{ numCpus: 2 }]);

const Seq = actor(
  class Seq {
    n = 0;
    next() {
      return ++this.n;
    }
  },
);

async function actorRow(name: string): Promise<{ state: string; numRestarts?: number } | undefined> {
  const r = await env.cluster.cli(['list', 'actors', '--json']);
  const rows = JSON.parse(r.stdout) as { name: string; state: string; numRestarts?: number }[];
  return rows.find((a) => a.name === name);
}

describe('kill with noRestart: false', () => {
  it('kill - noRestart: false restarts an actor with maxRestarts -1: the new instance answers, numRestarts goes up', async () => {
    const a = Seq.options({ name: 'seq-unlimited', maxRestarts: -1 }).remote();
    expect(await get([a.next.remote(), a.next.remote()])).toEqual([1, 2]);
    await kill(a, { noRestart: false });
    expect(await get([a.next.remote(), a.next.remote()])).toEqual([1, 2]);
    await until(async () => (await actorRow('seq-unlimited'))?.numRestarts === 1, 'numRestarts 1');
    expect((await actorRow('seq-unlimited'))?.state).toBe('ALIVE');
    await kill(a, { noRestart: false });
    expect(await get(a.next.remote())).toBe(1);
    await until(async () => (await actorRow('seq-unlimited'))?.numRestarts === 2, 'numRestarts 2');
    await kill(a);
    await expect(get(a.next.remote())).rejects.toBeInstanceOf(ActorDiedError);
  });

  it('kill - noRestart: false spends maxRestarts: 1 once; the next kill ends it', async () => {
    const a = Seq.options({ name: 'seq-once', maxRestarts: 1 }).remote();
    expect(await get(a.next.remote())).toBe(1);
    await kill(a, { noRestart: false });
    expect(await get(a.next.remote())).toBe(1);
    await kill(a, { noRestart: false });
    const err = await get(a.next.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorDiedError);
    expect((err as Error).message).toContain('noRestart: false');
    expect((await actorRow('seq-once'))?.state).toBe('DEAD');
  });

  it('kill - noRestart: false from a task restarts the driver-created actor, which answers again', async () => {
    const a = Seq.options({ name: 'seq-remote-kill', maxRestarts: -1 }).remote();
    expect(await get([a.next.remote(), a.next.remote(), a.next.remote()])).toEqual([1, 2, 3]);
    expect(await get(killFromTask.remote({ handle: a }))).toBe(true);
    await until(async () => {
      const row = await actorRow('seq-remote-kill');
      return row?.state === 'ALIVE' && row.numRestarts === 1;
    }, 'the actor restarted by its creator');
    expect(await get(a.next.remote())).toBe(1);
  });
});
