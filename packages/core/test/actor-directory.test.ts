import { describe, expect, it } from 'vitest';
import { silentLogger } from '@samsara/ray-common';
import { ActorDirectory } from '../src/head/actor-directory.js';

function setup() {
  const kills: string[] = [];
  const endedJobs = new Set<string>();
  const d = new ActorDirectory(
    { killOnNode: (nodeId, actorId) => kills.push(`${actorId}@${nodeId}`), changed: () => undefined, ownerGone: (a) => endedJobs.has(a.jobId ?? '') },
    silentLogger(),
  );
  const alive = (actorId: string, nodeId: string, maxRestarts: number, ownerAddress = 'driver:1', jobId = 'job1') => {
    d.register({ actorId, className: 'A', namespace: 'ns', maxRestarts, ownerAddress, jobId });
    d.update({ actorId, state: 'ALIVE', nodeId, address: `${nodeId}:1` });
  };
  return { d, kills, alive, endedJobs };
}

describe('ActorDirectory', () => {
  it('ActorDirectory - node death: restartable actors become RESTARTING and take their restarted instance; the rest are DEAD', () => {
    const { d, kills, alive } = setup();
    alive('r', 'n1', -1);
    alive('once', 'n1', 0);
    alive('nested', 'n1', -1, 'n1:1'); // created by a task on n1: its owner dies with the node
    alive('elsewhere', 'n2', 0);
    d.nodeDied('n1', 'process died', 'n1:1');
    expect(['r', 'once', 'nested', 'elsewhere'].map((id) => d.get(id)!.state)).toEqual(['RESTARTING', 'DEAD', 'DEAD', 'ALIVE']);
    expect(d.get('nested')!.reason).toMatch(/its node n1 died .*its owner ran there/);
    // its creator starts it again on n2: the head records it there, and does not kill it
    d.update({ actorId: 'r', state: 'ALIVE', nodeId: 'n2', address: 'n2:1' });
    expect(d.get('r')).toMatchObject({ state: 'ALIVE', nodeId: 'n2', numRestarts: 1 });
    expect(kills).toEqual([]);
  });

  it('ActorDirectory - a detached restartable actor whose job ended is DEAD with its node: nobody is left to restart it', () => {
    const { d, alive, endedJobs } = setup();
    alive('kept', 'n1', -1, 'driver:2', 'gone-job');
    endedJobs.add('gone-job');
    d.nodeDied('n1', 'process died', 'n1:1');
    expect(d.get('kept')!.state).toBe('DEAD');
    expect(d.get('kept')!.reason).toMatch(/its node n1 died .*the job that created it has ended/);
  });

  it('ActorDirectory - an instance reported ALIVE after the actor was killed is ended on its node', () => {
    const { d, kills } = setup();
    d.register({ actorId: 'k', className: 'A', namespace: 'ns', maxRestarts: -1 });
    d.kill('k', 'killed by kill()');
    d.update({ actorId: 'k', state: 'ALIVE', nodeId: 'n3', address: 'n3:1' });
    expect(d.get('k')!.state).toBe('DEAD');
    expect(kills).toEqual(['k@n3']);
  });

  it('ActorDirectory - restarts stop at maxRestarts: the node death after the last one ends it', () => {
    const { d, alive } = setup();
    alive('two', 'n1', 1);
    d.nodeDied('n1', 'gone');
    expect(d.get('two')!.state).toBe('RESTARTING');
    d.update({ actorId: 'two', state: 'ALIVE', nodeId: 'n2', address: 'n2:1' });
    d.nodeDied('n2', 'gone');
    expect(d.get('two')!.state).toBe('DEAD');
  });
});
