/**
 * ActorDirectory: the head's table of actors — ids, names per namespace, where each lives, its state.
 * Responsible for name uniqueness, answering lookups (`getActor`, callers that learn an actor's
 * address), killing on request, and ending the non-detached actors of a job that finished. Not on the
 * call path: callers send method calls to the actor's node directly.
 *
 * States: PENDING → ALIVE → DEAD; PENDING → DEAD (creation failed or killed first);
 * ALIVE → RESTARTING → ALIVE (restarts, when enabled).
 */
import { InvalidArgumentError, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';

export type ActorRecord = rayts.IActorInfo & { actorId: string; state: string };

export interface ActorDirectoryHooks {
  /** Tell the node hosting `actorId` to stop it. */
  killOnNode(nodeId: string, actorId: string, reason: string, graceful: boolean): void;
  /** Records changed: these actors (all of them when no ids are given). */
  changed(actorIds?: readonly string[]): void;
  /**
   * True when the process that created the actor (and would restart it) is gone, e.g. its job ended
   * (a detached actor outlives its job, but nobody is left to restart it).
   */
  ownerGone?(a: ActorRecord): boolean;
}

export class ActorDirectory {
  private readonly actors = new Map<string, ActorRecord>();
  private readonly names = new Map<string, string>();
  private readonly waiters = new Map<string, (() => void)[]>();
  /** Waiting for an ALIVE actor to leave ALIVE (a kill that lets it restart waits for its node's report). */
  private readonly leaveWaiters = new Map<string, (() => void)[]>();
  /** Handles created with getIfExists that found an existing actor: their id → the real one. */
  private readonly aliases = new Map<string, string>();

  constructor(
    private readonly hooks: ActorDirectoryHooks,
    private readonly log: Logger,
  ) {}

  private key(ns: string | null | undefined, name: string): string {
    return `${ns ?? ''}\0${name}`;
  }

  list(): ActorRecord[] {
    return [...this.actors.values()];
  }

  get(actorId: string): ActorRecord | undefined {
    return this.actors.get(this.aliases.get(actorId) ?? actorId);
  }

  byName(namespace: string, name: string): ActorRecord | undefined {
    const id = this.names.get(this.key(namespace, name));
    const a = id ? this.actors.get(id) : undefined;
    return a && a.state !== 'DEAD' ? a : undefined;
  }

  /** Records a new actor. With `getIfExists`, a live actor of the same name is returned instead. */
  register(a: rayts.IActorInfo, getIfExists = false): ActorRecord {
    if (!a.actorId) throw new InvalidArgumentError('register actor: actorId is required.');
    if (a.name) {
      const taken = this.byName(a.namespace ?? '', a.name);
      if (taken && taken.actorId !== a.actorId && getIfExists) {
        this.aliases.set(a.actorId, taken.actorId);
        return taken;
      }
      if (taken && taken.actorId !== a.actorId) {
        throw new InvalidArgumentError(
          `An actor named "${a.name}" already exists in namespace "${a.namespace}" (actor ${taken.actorId}, ${taken.state}).`,
          { hint: 'Use getActor(name) to reach it, pass getIfExists: true to reuse it, or pick another name.' },
        );
      }
    }
    // Known already (a node's report reached the head first, e.g. a node re-reporting its actors after a
    // head restart): what the node said about it stands, the rest comes from the registration.
    const reported = this.actors.get(a.actorId);
    const rec: ActorRecord = reported
      ? { ...a, actorId: a.actorId, state: reported.state, nodeId: reported.nodeId, address: reported.address, reason: reported.reason, deathCause: reported.deathCause }
      : { ...a, actorId: a.actorId, state: a.state || 'PENDING' };
    this.actors.set(rec.actorId, rec);
    if (rec.name) this.names.set(this.key(rec.namespace, rec.name), rec.actorId);
    this.hooks.changed([rec.actorId]);
    return rec;
  }

  /** A node or owner reports a state change. Unknown actors are recorded (e.g. after a head restart). */
  update(a: rayts.IActorInfo): ActorRecord | undefined {
    a = { ...a };
    const rec = this.actors.get(a.actorId ?? '');
    if (!rec) return a.actorId ? this.register(a) : undefined;
    if (rec.state === 'DEAD') {
      // Killed while its creation was on the way (the head knew no node to tell): the node that built it
      // ends it now, so it holds no resources nobody can use.
      if (a.state === 'ALIVE' && a.nodeId) this.hooks.killOnNode(a.nodeId, rec.actorId, rec.deathCause || rec.reason || 'killed before it was built', false);
      return rec;
    }
    if (a.state === 'DEAD' && this.mayRestart(rec)) {
      // Its creator restarts it (see CoreWorker.actorLost).
      a = { ...a, state: 'RESTARTING' };
    }
    if (a.state === 'ALIVE' && rec.state === 'RESTARTING') rec.numRestarts = (rec.numRestarts ?? 0) + 1;
    if (a.state) rec.state = a.state;
    if (a.nodeId) rec.nodeId = a.nodeId;
    if (a.address) rec.address = a.address;
    if (a.reason !== undefined && a.reason !== null) rec.reason = a.reason;
    if (a.deathCause) rec.deathCause = a.deathCause;
    this.settle(rec);
    this.hooks.changed([rec.actorId]);
    return rec;
  }

  /** True while the actor has restarts left (`maxRestarts` -1, or more than it has used). */
  private mayRestart(rec: ActorRecord): boolean {
    const max = rec.maxRestarts ?? 0;
    return max < 0 || (rec.numRestarts ?? 0) < max;
  }

  /**
   * `kill(handle, { noRestart: false })`: an ALIVE actor with restarts left is stopped on its node as if
   * it had failed; its node's DEAD report turns it RESTARTING and its creator starts it again. Resolves
   * once the node reported the old instance gone (at most `timeoutMs`; then it is killed for good). An
   * actor without restarts left, or not ALIVE, is killed for good as by {@link kill}.
   */
  async killForRestart(actorId: string, reason: string, timeoutMs = 10_000): Promise<ActorRecord | undefined> {
    const rec = this.get(actorId);
    if (!rec || rec.state !== 'ALIVE' || !rec.nodeId || !this.mayRestart(rec)) return this.kill(actorId, reason, false);
    const left = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      const list = this.leaveWaiters.get(rec.actorId) ?? [];
      list.push(() => {
        clearTimeout(t);
        resolve(true);
      });
      this.leaveWaiters.set(rec.actorId, list);
    });
    this.hooks.killOnNode(rec.nodeId, rec.actorId, reason, false);
    this.log.info({ actorId: rec.actorId, reason }, 'actor killed; it may restart');
    if (!(await left)) return this.kill(rec.actorId, `${reason}; its node did not report it stopped within ${timeoutMs} ms`, false);
    return this.get(rec.actorId);
  }

  kill(actorId: string, reason: string, graceful = false): ActorRecord | undefined {
    const rec = this.get(actorId);
    if (!rec || rec.state === 'DEAD') return rec;
    const nodeId = rec.nodeId;
    rec.state = 'DEAD';
    rec.reason = reason;
    rec.deathCause = reason;
    if (nodeId) this.hooks.killOnNode(nodeId, actorId, reason, graceful);
    this.settle(rec);
    this.hooks.changed([rec.actorId]);
    this.log.info({ actorId, reason }, 'actor killed');
    return rec;
  }

  /** Ends the non-detached actors a finished job owned. */
  jobFinished(jobId: string): void {
    for (const a of this.actors.values()) {
      if (a.jobId === jobId && !a.detached && a.state !== 'DEAD') this.kill(a.actorId, `its owner (job ${jobId}) exited`, true);
    }
  }

  /** The node process that hosts actors registered again under a new id: its actors moved with it. */
  nodeReplaced(oldNodeId: string, newNodeId: string): void {
    const ids: string[] = [];
    for (const a of this.actors.values()) {
      if (a.nodeId === oldNodeId && a.state !== 'DEAD') {
        a.nodeId = newNodeId;
        ids.push(a.actorId);
      }
    }
    if (ids.length) this.hooks.changed(ids);
  }

  /**
   * Actors on a dead node: one with restarts left becomes RESTARTING (its creator starts it again, see
   * CoreWorker.actorLost, and callers wait for it), unless its owner is gone: it lived in that node
   * process too (`ownerAddress` is the node's address: a task there created it), or its job ended. Those
   * end like Ray ends an actor whose owner died. The rest are DEAD.
   */
  nodeDied(nodeId: string, reason: string, nodeAddress?: string): void {
    const ids: string[] = [];
    for (const a of this.actors.values()) {
      if (a.nodeId === nodeId && a.state !== 'DEAD') {
        const ownerThere = !!nodeAddress && a.ownerAddress === nodeAddress;
        const jobEnded = !ownerThere && !!this.hooks.ownerGone?.(a);
        a.state = !ownerThere && !jobEnded && this.mayRestart(a) ? 'RESTARTING' : 'DEAD';
        a.reason = `its node ${nodeId} died (${reason})${ownerThere ? ', and its owner ran there' : jobEnded ? ', and the job that created it has ended' : ''}`;
        a.deathCause = a.reason;
        this.settle(a);
        ids.push(a.actorId);
      }
    }
    this.hooks.changed(ids);
  }

  /** Resolves when the actor leaves PENDING/RESTARTING, or after `timeoutMs`. */
  waitSettled(actorId: string, timeoutMs: number): Promise<ActorRecord | undefined> {
    actorId = this.aliases.get(actorId) ?? actorId;
    const rec = this.actors.get(actorId);
    if (!rec || (rec.state !== 'PENDING' && rec.state !== 'RESTARTING')) return Promise.resolve(rec);
    return new Promise((resolve) => {
      const t = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve(this.actors.get(actorId));
      };
      const list = this.waiters.get(actorId) ?? [];
      list.push(done);
      this.waiters.set(actorId, list);
    });
  }

  private settle(rec: ActorRecord): void {
    if (rec.state !== 'ALIVE') {
      const left = this.leaveWaiters.get(rec.actorId);
      this.leaveWaiters.delete(rec.actorId);
      for (const f of left ?? []) f();
    }
    if (rec.state === 'PENDING' || rec.state === 'RESTARTING') return;
    const w = this.waiters.get(rec.actorId);
    if (!w) return;
    this.waiters.delete(rec.actorId);
    for (const f of w) f();
  }
}
