/**
 * Fast failover (issue 11.5): a worker node whose process dies is declared dead as soon as its channel
 * to the head drops and a probe finds nothing listening, not after the heartbeat deadline. The deadline
 * here is 120 s, so every assertion below can only hold through the fast path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, init, nodes, remote, runtimeContext, shutdown, wait } from '@samsara/ray';
import { CliCluster, isAlive, until } from './helpers/cli-cluster.js';

describe('fast failover (CLI cluster, heartbeat deadline 120 s)', () => {
  let cluster: CliCluster;
  beforeAll(async () => {
    cluster = await CliCluster.start({ numCpus: 0 }, [{ numCpus: 2, labels: 'role=victim' }, { numCpus: 2 }], { RAYTS_DEAD_AFTER_MS: '120000' });
    await init({ address: cluster.address, token: cluster.token });
    // A head with --num-cpus 0 runs no worker node of its own: two nodes.
    await until(async () => (await nodes()).filter((n) => n.alive).length === 2, '2 alive nodes');
  }, 60_000);
  afterAll(async () => {
    await shutdown();
    await cluster?.stop();
  });

  it('failover - 300 tasks of 100 ms with a worker SIGKILLed mid-run all finish; the node is dead with the probe as reason', async () => {
    const work = remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 100));
      return { i, node: runtimeContext().nodeId };
    });
    const refs = Array.from({ length: 300 }, (_, i) => work.options({ maxRetries: 3 }).remote(i));
    const victim = (await nodes()).find((n) => n.labels.role === 'victim')!.nodeId;
    // Kill once the victim has finished some of the work (an event, not a delay).
    let seenOnVictim = 0;
    let pending = refs;
    while (seenOnVictim === 0) {
      const { ready, notReady } = await wait(pending, { numReturns: 1 });
      pending = notReady;
      for (const r of await get(ready)) if (r.node === victim) seenOnVictim++;
    }
    const victimPid = (await nodes()).find((n) => n.nodeId === victim)!.pid;
    expect(isAlive(victimPid)).toBe(true);
    process.kill(victimPid, 'SIGKILL');
    const results = await get(refs, { timeoutMs: 60_000 });
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // The owners may finish the work (they retry on their own broken streams) before the head's probe
    // verdict lands; wait for the verdict as an event — far inside the 120 s heartbeat deadline.
    await until(async () => !(await nodes()).find((n) => n.nodeId === victim)!.alive, 'the head to declare the killed node dead', 20_000);
    const dead = (await nodes()).find((n) => n.nodeId === victim)!;
    expect(dead.deathReason).toMatch(/nothing listens/);
  }, 90_000);
});
