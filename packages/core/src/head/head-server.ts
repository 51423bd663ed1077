/**
 * HeadServer: the cluster controller. Responsible for the node table and health, the cluster view
 * pushed to drivers and nodes, jobs, the task-event table behind `rayts list tasks` / `rayts status`,
 * and cluster shutdown. Not responsible for running or routing tasks: it is off the per-task path.
 *
 * RPC failure behaviour: a bad token is refused by the guard; a report from an unknown or dead node
 * gets a "dead" command (the node re-registers under a new id); malformed input is INVALID_ARGUMENT.
 */
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, newJobId, packInternal, validateResources, type HealthConfig, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { headServiceDefinition, pb } from '../rpc/services.js';
import type { HostedService } from '../rpc/server-host.js';
import { NodeTable, type NodeRecord } from './node-table.js';
import { watchLostNode } from './node-prober.js';
import { planSpills } from './spillback-policy.js';
import { TaskEventTable } from './task-event-table.js';
import { ActorDirectory } from './actor-directory.js';
import { PlacementGroupManager } from './placement-group-manager.js';
import { HeadStateStore } from './head-state-store.js';
import { restoreHeadState, type RecoverySummary } from './head-recovery.js';
import { JobManager } from './job-manager.js';
import type { HeadTables, JobRecord } from './head-tables.js';

export type { JobRecord } from './head-tables.js';
import { KvTable } from './kv-table.js';

export interface HeadServerOptions {
  readonly health: HealthConfig;
  readonly sessionName: string;
  readonly log: Logger;
  /** Called when a client asks the cluster to shut down (after nodes were told). */
  readonly onShutdown?: (reason: string) => void;
  /** Persist nodes, actors, groups, jobs and KV in this session directory (docs/head-restart.md). */
  readonly stateDir?: string;
  /** With `stateDir`: start from what an earlier head of this session persisted. */
  readonly restore?: boolean;
  /** Job submission (`rayts job submit`, docs/jobs.md): where jobs log, and what they join with. */
  readonly jobs?: { readonly sessionDir: string; readonly token: string; readonly address: () => string };
}

export class HeadServer implements HeadTables {
  readonly nodes: NodeTable;
  readonly tasks = new TaskEventTable(20_000);
  readonly actors: ActorDirectory;
  readonly placementGroups: PlacementGroupManager;
  /** Open WatchCluster streams per driver job: when the last one closes, the driver is gone. */
  private readonly jobWatchers = new Map<string, number>();
  /** Jobs whose driver's watch ended: ended when it has not resubscribed within the dead deadline. */
  private readonly jobEndTimers = new Map<string, NodeJS.Timeout>();
  /** Jobs and KV (persisted by HeadStateStore). */
  readonly jobs = new Map<string, JobRecord>();
  readonly kv = new Map<string, Uint8Array>();
  /** The KV operations over `kv` (checks, limits, persistence before the answer). */
  private readonly kvTable = new KvTable(this.kv, () => this.state && { put: (k, v) => this.state!.kvPut(k, v), delete: (k) => this.state!.kvDelete(k) });
  /** Submitted jobs (entrypoints the head runs); its JobService is hosted beside this service. */
  readonly submissions: JobManager;
  /** Durable copy of the cluster state, when the head persists it. */
  readonly state?: HeadStateStore;
  /** What a restart restored, if this head restored a session. */
  readonly restored?: RecoverySummary;
  private readonly watchers = new Set<grpc.ServerWritableStream<rayts.WatchRequest, rayts.ClusterView>>();
  private readonly channels = new Map<string, grpc.ServerDuplexStream<rayts.NodeReport, rayts.HeadCommand>>();
  private version = 0;
  private pushScheduled = false;
  private closed = false;
  /** The report time of each node when it was last told to spill (told again only after a newer report). */
  private readonly spilledAt = new Map<string, number>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly pushTimer: NodeJS.Timeout;
  viewExtras?: () => Partial<rayts.IClusterView>;

  constructor(private readonly o: HeadServerOptions) {
    this.submissions = new JobManager({
      sessionDir: o.jobs?.sessionDir,
      token: o.jobs?.token ?? '',
      headAddress: () => o.jobs?.address() ?? '',
      driverJob: (id) => this.jobs.get(id),
      log: o.log.child({ component: 'jobs' }),
    });
    this.nodes = new NodeTable(o.health.deadAfterMs);
    this.actors = new ActorDirectory(
      {
        killOnNode: (nodeId, actorId, reason, graceful) => this.sendCommand(nodeId, { kind: 'kill_actor', targetId: actorId, reason, graceful }),
        changed: (ids) => {
          this.state?.markActorsDirty(ids);
          this.schedulePush();
        },
        ownerGone: (a) => {
          const job = a.jobId ? this.jobs.get(a.jobId) : undefined;
          return !!job && job.state !== 'RUNNING';
        },
      },
      o.log.child({ component: 'actors' }),
    );
    this.placementGroups = new PlacementGroupManager(
      this.nodes,
      {
        command: (nodeId, cmd) => this.sendCommand(nodeId, cmd),
        changed: () => {
          this.state?.markDirty('groups', 'nodes');
          this.schedulePush();
        },
      },
      o.log.child({ component: 'placement-groups' }),
    );
    if (o.stateDir) {
      this.state = new HeadStateStore(this, { sessionDir: o.stateDir, restore: !!o.restore, log: o.log.child({ component: 'state' }) });
      if (o.restore) this.restored = restoreHeadState(this, this.state.replayed, o.health.deadAfterMs, o.log.child({ component: 'recovery' }));
      this.state.markAllDirty();
    }
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, o.health.heartbeatPeriodMs)));
    this.sweepTimer.unref();
    this.pushTimer = setInterval(() => this.schedulePush(), Math.max(200, o.health.heartbeatPeriodMs));
    this.pushTimer.unref();
  }

  private sweep(): void {
    const dead = this.nodes.sweep();
    const stall = this.nodes.takeStall();
    if (stall) this.o.log.warn({ stalledMs: Math.round(stall) }, 'the head itself stood still (paused or blocked): every node gets a fresh heartbeat deadline');
    for (const d of dead) this.nodeDied(d);
    if (dead.length) {
      this.state?.markDirty('nodes');
      this.schedulePush();
    }
    this.placementGroups.retryPending();
    this.spillback();
  }

  /** Tells busy nodes to hand queued work back to its owners when other nodes could start it now. */
  private spillback(): void {
    const fresh = (nodeId: string) => (this.spilledAt.get(nodeId) ?? -1) < (this.nodes.get(nodeId)?.lastHeartbeatMs ?? 0);
    for (const order of planSpills(this.nodes.all(), fresh)) {
      if (this.sendCommand(order.from, { kind: 'spill', payload: packInternal({ resources: order.resources, count: order.count }) })) {
        this.spilledAt.set(order.from, this.nodes.get(order.from)!.lastHeartbeatMs);
      }
    }
  }

  /** What a node's death does to the rest of the cluster (the node table has already marked it). */
  private nodeDied(d: NodeRecord): void {
    this.o.log.warn({ nodeId: d.nodeId, reason: d.deathReason }, 'node declared dead');
    this.actors.nodeDied(d.nodeId, d.deathReason, d.address);
    this.placementGroups.nodeDied(d.nodeId);
    this.channels.get(d.nodeId)?.write(pb.HeadCommand.create({ kind: 'dead', targetId: d.nodeId, reason: d.deathReason }));
    // What the dead node owned (results of its tasks' nested work) is nobody's now: nodes drop it.
    if (d.address) for (const nodeId of this.channels.keys()) if (nodeId !== d.nodeId) this.sendCommand(nodeId, { kind: 'owner_dead', targetId: d.address });
  }

  /**
   * A node's channel dropped: probe it, and declare it dead at once when its process is gone (fast
   * failover, see node-prober.ts). Heartbeats still decide for partitions and hung hosts.
   */
  private channelLost(nodeId: string): void {
    const rec = this.nodes.get(nodeId);
    if (!rec || !rec.alive || rec.kind === 'edge' || this.closed) return;
    const stillLost = () => !this.closed && !this.channels.has(nodeId) && !!this.nodes.get(nodeId)?.alive;
    void watchLostNode(rec.address, stillLost, { forMs: this.o.health.deadAfterMs }).then((reason) => {
      if (!reason || !stillLost()) return;
      const d = this.nodes.markDead(nodeId, reason);
      if (!d) return;
      this.nodeDied(d);
      this.state?.markDirty('nodes');
      this.schedulePush();
      this.placementGroups.retryPending();
    });
  }

  view(): rayts.ClusterView {
    return pb.ClusterView.create({
      nodes: this.nodes.all().map((n) => this.nodes.toInfo(n)) as rayts.NodeInfo[],
      version: this.version,
      sessionName: this.o.sessionName,
      pending: this.tasks.pending() as rayts.PendingTaskInfo[],
      actors: this.actors.list().map((a) => ({ ...a, spec: undefined })) as unknown as rayts.ActorInfo[],
      placementGroups: this.placementGroups.list() as rayts.PlacementGroupInfo[],
      ...(this.viewExtras?.() ?? {}),
    } as rayts.IClusterView);
  }

  /** Pushes the view to every watcher soon (coalescing bursts of changes). */
  schedulePush(): void {
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    setTimeout(() => {
      this.pushScheduled = false;
      this.version++;
      const v = this.view();
      for (const w of this.watchers) w.write(v);
    }, 20).unref();
  }

  sendCommand(nodeId: string, cmd: rayts.IHeadCommand): boolean {
    const ch = this.channels.get(nodeId);
    if (!ch) return false;
    ch.write(pb.HeadCommand.create(cmd));
    return true;
  }

  service(): HostedService {
    const impl = {
      registerNode: async (call: grpc.ServerUnaryCall<rayts.RegisterNodeRequest, unknown>): Promise<rayts.IRegisterNodeReply> => {
        const req = call.request;
        if (!req.address) throw new InvalidArgumentError('RegisterNode: address is required.');
        validateResources(req.resources, 'RegisterNode');
        const rec = this.nodes.register(req, req.kind === 'head');
        this.o.log.info({ nodeId: rec.nodeId, address: rec.address, kind: rec.kind, resources: rec.total, labels: rec.labels, replaced: rec.replaced?.nodeId }, 'node registered');
        if (rec.replaced) {
          // The same process under a new id: its actors and bundles live on in it, and what it owns stays
          // valid (no owner_dead). Its old channel is closed.
          this.actors.nodeReplaced(rec.replaced.nodeId, rec.nodeId);
          this.placementGroups.nodeReplaced(rec.replaced.nodeId, rec.nodeId);
          this.channels.get(rec.replaced.nodeId)?.end();
          this.channels.delete(rec.replaced.nodeId);
        }
        this.placementGroups.retryPending();
        this.state?.markDirty('nodes');
        this.schedulePush();
        return {
          nodeId: rec.nodeId,
          heartbeatPeriodMs: this.o.health.heartbeatPeriodMs,
          deadAfterMs: this.o.health.deadAfterMs,
          sessionName: this.o.sessionName,
        };
      },
      nodeChannel: (call: grpc.ServerDuplexStream<rayts.NodeReport, rayts.HeadCommand>) => {
        let nodeId = '';
        call.on('data', (r: rayts.NodeReport) => {
          if (!nodeId && r.nodeId) {
            nodeId = r.nodeId;
            this.channels.get(nodeId)?.end();
            this.channels.set(nodeId, call);
          }
          if (!this.nodes.report(r)) {
            call.write(pb.HeadCommand.create({ kind: 'dead', targetId: r.nodeId, reason: 'unknown or dead node id; register again' }));
          } else if (this.placementGroups.nodeReported(r.nodeId, r.available ?? {})) {
            // A removed group's resources are back on that node: pending groups may fit now.
            this.placementGroups.retryPending();
          }
        });
        // However the stream ends (a dying process's socket often closes with a clean end), a node that
        // did not leave is probed (channelLost): a node that left is already dead in the table.
        const done = () => {
          if (!nodeId || this.channels.get(nodeId) !== call) return;
          this.channels.delete(nodeId);
          this.channelLost(nodeId);
        };
        call.on('end', () => {
          done();
          call.end();
        });
        call.on('error', done);
        call.on('cancelled', done);
      },
      watchCluster: (call: grpc.ServerWritableStream<rayts.WatchRequest, rayts.ClusterView>) => {
        this.watchers.add(call);
        call.write(this.view());
        const jobId = call.request.jobId;
        if (jobId) {
          this.jobWatchers.set(jobId, (this.jobWatchers.get(jobId) ?? 0) + 1);
          // The driver resubscribed within the grace period: its job goes on.
          clearTimeout(this.jobEndTimers.get(jobId));
          this.jobEndTimers.delete(jobId);
        }
        let closed = false;
        const done = () => {
          this.watchers.delete(call);
          if (closed) return;
          closed = true;
          if (jobId) this.watcherGone(jobId);
        };
        call.on('cancelled', done);
        call.on('error', done);
        call.on('close', done);
      },
      registerJob: async (call: grpc.ServerUnaryCall<rayts.RegisterJobRequest, unknown>): Promise<rayts.IRegisterJobReply> => {
        const jobId = newJobId();
        const r = call.request;
        this.jobs.set(jobId, {
          jobId,
          driverAddress: r.driverAddress,
          state: 'RUNNING',
          startMs: Date.now(),
          endMs: 0,
          pid: r.pid,
          entrypoint: r.entrypoint,
        });
        this.state?.markDirty('jobs');
        this.submissions.driverRegistered(r.submissionId, jobId);
        return { jobId, sessionName: this.o.sessionName };
      },
      finishJob: async (call: grpc.ServerUnaryCall<rayts.FinishJobRequest, unknown>) => {
        const j = this.jobs.get(call.request.jobId);
        if (j && j.state === 'RUNNING') {
          j.state = 'SUCCEEDED';
          j.endMs = Date.now();
        }
        this.endJob(call.request.jobId);
        return {};
      },
      reportEvents: async (call: grpc.ServerUnaryCall<rayts.EventBatch, unknown>) => {
        const before = this.tasks.pendingCount;
        for (const e of call.request.events) this.tasks.apply(e);
        if (before !== this.tasks.pendingCount) this.schedulePush();
        return {};
      },
      listTasks: async (call: grpc.ServerUnaryCall<rayts.ListRequest, unknown>): Promise<rayts.ITaskList> => ({
        tasks: this.tasks.list(call.request.limit || 1000, call.request.filter),
      }),
      listJobs: async (): Promise<rayts.IJobList> => ({ jobs: this.submissions.list(this.jobs.values()) }),
      clusterStatus: async () => this.view(),
      shutdown: async (call: grpc.ServerUnaryCall<rayts.ShutdownRequest, unknown>) => {
        const reason = call.request.reason || 'requested';
        this.o.log.info({ reason }, 'cluster shutdown requested');
        for (const ch of this.channels.values()) ch.write(pb.HeadCommand.create({ kind: 'shutdown', reason }));
        setTimeout(() => this.o.onShutdown?.(reason), 100).unref();
        return {};
      },
      actorCall: async (call: grpc.ServerUnaryCall<rayts.ActorDirectoryRequest, unknown>) => this.actorCall(call.request),
      reportActor: async (call: grpc.ServerUnaryCall<rayts.ActorInfo, unknown>) => {
        this.actors.update(call.request);
        return {};
      },
      placementGroupCall: async (call: grpc.ServerUnaryCall<rayts.PlacementGroupRequest, unknown>) => this.placementGroupCall(call.request),
      kvCall: async (call: grpc.ServerUnaryCall<rayts.KvRequest, unknown>): Promise<rayts.IKvReply> => this.kvTable.call(call.request),
    };
    return { definition: headServiceDefinition, implementation: impl as unknown as HostedService['implementation'] };
  }

  private watcherGone(jobId: string): void {
    const n = (this.jobWatchers.get(jobId) ?? 1) - 1;
    if (n > 0) {
      this.jobWatchers.set(jobId, n);
      return;
    }
    this.jobWatchers.delete(jobId);
    const j = this.jobs.get(jobId);
    if (!j || j.state !== 'RUNNING' || this.jobEndTimers.has(jobId)) return;
    // The driver's watch ended without FinishJob: it died, or its stream broke (the head or the network
    // stood still) and it is resubscribing. Ending the job frees everything the driver owns on every node,
    // so wait the dead deadline for a resubscription first.
    const t = setTimeout(() => {
      this.jobEndTimers.delete(jobId);
      if (this.jobWatchers.has(jobId) || j.state !== 'RUNNING') return;
      j.state = 'FAILED';
      j.endMs = Date.now();
      this.o.log.warn({ jobId }, 'driver disconnected; ending its job');
      this.endJob(jobId);
    }, this.o.health.deadAfterMs);
    t.unref();
    this.jobEndTimers.set(jobId, t);
  }

  /** After a restart: RUNNING jobs whose driver has not resubscribed ended while the head was down. */
  endJobsWithoutDriver(reason: string): void {
    for (const j of this.jobs.values()) {
      if (j.state !== 'RUNNING' || this.jobWatchers.has(j.jobId)) continue;
      j.state = 'FAILED';
      j.endMs = Date.now();
      this.o.log.warn({ jobId: j.jobId, reason }, 'ending job');
      this.endJob(j.jobId);
    }
  }

  private endJob(jobId: string): void {
    this.state?.markDirty('jobs');
    // Nodes drop what they store for the job's tasks: its owner is gone or done with them.
    for (const nodeId of this.channels.keys()) this.sendCommand(nodeId, { kind: 'job_finished', targetId: jobId });
    this.tasks.dropPendingOfJob(jobId);
    this.actors.jobFinished(jobId);
    this.placementGroups.jobFinished(jobId);
    this.schedulePush();
  }

  private async placementGroupCall(r: rayts.PlacementGroupRequest): Promise<rayts.IPlacementGroupReply> {
    switch (r.op) {
      case 'create':
        return { group: this.placementGroups.create(r.group ?? {}) };
      case 'create_many': {
        if (r.groups.length > 10_000) throw new InvalidArgumentError('create_many takes at most 10,000 placement groups per call.');
        // Each group independently: one malformed group does not fail the others.
        const groups = r.groups.map((g) => {
          try {
            return this.placementGroups.create(g);
          } catch (e) {
            return { pgId: g.pgId, state: 'REMOVED', reason: (e as Error).message };
          }
        });
        return { groups };
      }
      // Answered once the nodes gave the bundles back (removePlacementGroup() resolves then).
      case 'remove': {
        const group = this.placementGroups.remove(r.pgId);
        await this.placementGroups.released(r.pgId);
        return { group };
      }
      case 'remove_many': {
        if (r.groups.length > 10_000) throw new InvalidArgumentError('remove_many takes at most 10,000 placement groups per call.');
        const groups = r.groups.map((g) => this.placementGroups.remove(g.pgId ?? '') ?? { pgId: g.pgId, state: 'REMOVED', reason: 'not found' });
        await Promise.all(r.groups.map((g) => this.placementGroups.released(g.pgId ?? '')));
        return { groups };
      }
      case 'wait':
        return { group: await this.placementGroups.wait(r.pgId, Math.min(Math.max(r.timeoutMs || 30_000, 1), 60_000)) };
      case 'list':
        return { groups: this.placementGroups.list() };
      default:
        throw new InvalidArgumentError(`placement group op ${JSON.stringify(r.op)} is not one of create, create_many, remove, remove_many, wait, list.`);
    }
  }

  private async actorCall(r: rayts.ActorDirectoryRequest): Promise<rayts.IActorDirectoryReply> {
    switch (r.op) {
      case 'register':
        return { actor: this.actors.register(r.actor ?? {}, r.noRestart), found: true };
      case 'update':
        return { actor: this.actors.update(r.actor ?? {}), found: true };
      case 'get': {
        const id = r.actor?.actorId;
        const a = id ? this.actors.get(id) : this.actors.byName(r.namespace, r.name);
        return { actor: a, found: !!a };
      }
      case 'wait': {
        const a = await this.actors.waitSettled(r.actor?.actorId ?? '', 30_000);
        return { actor: a, found: !!a };
      }
      case 'list':
        return { actors: this.actors.list().map((a) => ({ ...a, spec: undefined })) };
      case 'kill': {
        const reason = r.actor?.reason || 'killed by kill()';
        const a = r.restart ? await this.actors.killForRestart(r.actor?.actorId ?? '', reason) : this.actors.kill(r.actor?.actorId ?? '', reason, false);
        return { actor: a, found: !!a };
      }
      default:
        throw new InvalidArgumentError(`actor op ${JSON.stringify(r.op)} is not one of register, update, get, wait, list, kill.`);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.jobEndTimers.values()) clearTimeout(t);
    this.jobEndTimers.clear();
    this.submissions.close();
    void this.state?.close();
    clearInterval(this.sweepTimer);
    clearInterval(this.pushTimer);
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    for (const ch of this.channels.values()) ch.end();
    this.channels.clear();
  }
}
