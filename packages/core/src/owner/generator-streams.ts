/**
 * GeneratorStreams: the streaming generator tasks whose items this owner receives (see
 * GeneratorStreamState for one stream). Responsible for opening a stream when such a task is submitted,
 * recording each item that arrives (inline, or stored on a node) as an owned object, what a spec carries
 * for a streaming task (a re-run's skip, the consumed count), acks for backpressure, and freeing items
 * nobody will read. Not responsible for the task itself (TaskSubmitter runs, retries and ends it).
 */
import { objectIdOf, type ObjectRef } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { callUnary } from '../rpc/auth.js';
import { GeneratorStreamState, type StreamHost } from './generator-stream.js';
import type { OwnerState } from './owner-state.js';
import type { OwnerReferences } from './owner-references.js';
import type { TaskRecord } from './task-record.js';

export class GeneratorStreams {
  /** Streams whose caller still reads them, by task id. */
  private readonly streams = new Map<string, GeneratorStreamState>();
  private readonly host: StreamHost;

  constructor(
    private readonly s: OwnerState,
    private readonly r: OwnerReferences,
    /** Stops the producer of a stream its reader left (TaskSubmitter.cancelTask without force). */
    private readonly stopTask: (taskId: string) => void,
  ) {
    this.host = {
      objects: this.s.objects,
      ref: (id) => this.r.ref(id),
      drop: (id) => {
        this.r.releaseContained(id);
        this.r.dropObject(id);
      },
      ack: (taskId, consumed) => {
        const rec = this.s.tasks.get(taskId);
        if (rec?.state === 'submitted' && rec.nodeId) this.s.conns.get(rec.nodeId)?.ackGenerator(taskId, consumed);
      },
      stop: (taskId) => this.stopTask(taskId),
      forget: (taskId) => this.streams.delete(taskId),
    };
  }

  openStream(taskId: string, backpressure: number): GeneratorStreamState {
    const st = new GeneratorStreamState(taskId, backpressure, this.host);
    this.streams.set(taskId, st);
    return st;
  }

  /** A stream that failed before it was submitted (e.g. unshippable code): it yields the error and ends. */
  failedStream(taskId: string, error: Error): void {
    this.openStream(taskId, 0).end(error);
  }

  /** The next item of a stream this process reads (for worker threads, through the bridge); undefined at its end. */
  streamNext(taskId: string): Promise<ObjectRef | undefined> {
    const st = this.streams.get(taskId);
    return st ? st.next() : Promise.resolve(undefined);
  }

  /** The reader of a stream left early (see GeneratorStreamState.close). */
  streamClose(taskId: string): void {
    this.streams.get(taskId)?.close();
  }

  /**
   * One item of a streaming task. Items are taken from any attempt (a re-run yields the same items) as
   * long as the caller has not got that index yet; others are dropped, and a stored one the caller will
   * never read is freed where it lies.
   */
  onStreamItem(r: rayts.TaskResult): void {
    const st = this.streams.get(r.taskId);
    if (!st || !st.wants(r.itemIndex)) {
      this.r.dropRegisteredContained(r);
      // The reader left: nothing else will free this copy. (A duplicate is left alone: same id as ours.)
      if (r.stored && r.nodeAddress && (!st || st.isClosed)) {
        const id = objectIdOf(r.taskId as never, r.itemIndex + 1);
        if (!this.s.o.store.delete(id)) callUnary(this.s.pulls.client(r.nodeAddress), 'freeObjects', { objectIds: [id] }, this.s.o.token).catch(() => undefined);
      }
      return;
    }
    const id = st.itemId(r.itemIndex);
    if (r.stored) this.s.objects.resolveStored(id, r.nodeAddress, r.nodeId, r.sizeBytes);
    else this.s.objects.resolveInline(id, r.inline);
    if (r.containedRefs?.length) this.r.holdContained(id, r.containedRefs, r.containedOwners, true);
    st.arrive(r.itemIndex);
  }

  /** TaskSpec fields of a streaming task: a re-run skips what the caller has; backpressure counts from what it consumed. */
  streamFields(rec: TaskRecord): Partial<rayts.TaskSpec.$Properties> {
    const st = rec.stream;
    if (!st) return {};
    return { streaming: true, generatorBackpressure: st.backpressure, generatorSkip: st.received, generatorConsumed: st.yielded };
  }

  /** Forgets a stream that could not be submitted. */
  forgetStream(taskId: string): void {
    this.streams.delete(taskId);
  }

  /** Ends every stream with `error` (the owner is closing). */
  endAll(error: Error): void {
    for (const st of [...this.streams.values()]) st.end(error);
  }
}
