/**
 * NodeConnection: one long-lived TaskStream from a submitter to one node. Specs queued during a turn of
 * the event loop go out as one TaskBatch; results come back in ResultBatches. The connection remembers
 * which function sources and working directories it already sent, so each travels once per stream.
 *
 * Not responsible for retries: when the stream breaks, `onClosed` hands the decision to the owner.
 */
import type * as grpc from '@grpc/grpc-js';
import { NodeClient, pb } from '../rpc/services.js';
import { dialPeer } from '../edge/edge-address.js';
import { authMetadata } from '../rpc/auth.js';
import type { rayts } from '@samsara/ray-proto';

type TaskSpecMsg = rayts.TaskSpec.$Properties;
type ResultBatchMsg = rayts.ResultBatch;

export interface NodeConnectionEvents {
  onResults(batch: ResultBatchMsg, conn: NodeConnection): void;
  onClosed(conn: NodeConnection, error: Error | undefined): void;
}

export class NodeConnection {
  readonly sentFunctions = new Set<string>();
  readonly sentWorkingDirs = new Set<string>();
  private readonly client: grpc.Client;
  private stream: grpc.ClientDuplexStream<unknown, ResultBatchMsg> | undefined;
  private outTasks: TaskSpecMsg[] = [];
  private outCancels: rayts.CancelRequest.$Properties[] = [];
  private outAcks: string[] = [];
  /** Items consumed per streaming task, latest count only. */
  private outGeneratorAcks = new Map<string, number>();
  private flushScheduled = false;
  private closed = false;

  constructor(
    readonly nodeId: string,
    readonly address: string,
    private readonly token: string,
    private readonly submitterId: string,
    private readonly events: NodeConnectionEvents,
  ) {
    // Edge nodes are reached through their head (edge/edge-address.ts).
    this.client = dialPeer(NodeClient, address);
    this.open();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private open(): void {
    const s = (this.client as unknown as { taskStream(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, ResultBatchMsg> }).taskStream(
      authMetadata(this.token),
    );
    this.stream = s;
    s.on('data', (batch: ResultBatchMsg) => {
      try {
        this.events.onResults(batch, this);
      } catch {
        /* the owner logs its own failures; a bad batch never kills the stream reader */
      }
    });
    s.on('error', (e: Error) => this.shut(e));
    s.on('end', () => this.shut(undefined));
  }

  send(spec: TaskSpecMsg): void {
    this.outTasks.push(spec);
    this.schedule();
  }

  cancel(taskId: string, force: boolean): void {
    this.outCancels.push({ taskId, force });
    this.schedule();
  }

  ack(ids: string[]): void {
    for (const id of ids) this.outAcks.push(id);
    this.schedule();
  }

  /** The caller of a streaming task consumed `consumed` of its items (the producer's backpressure). */
  ackGenerator(taskId: string, consumed: number): void {
    this.outGeneratorAcks.set(taskId, consumed);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || !this.stream) return;
    // Keep messages bounded: at most 2,000 specs per batch.
    while (this.outTasks.length || this.outCancels.length || this.outAcks.length || this.outGeneratorAcks.size) {
      const tasks = this.outTasks.length > 2000 ? this.outTasks.splice(0, 2000) : this.outTasks.splice(0);
      const generatorAcks = [...this.outGeneratorAcks].map(([taskId, consumed]) => ({ taskId, consumed }));
      this.outGeneratorAcks.clear();
      const batch = pb.TaskBatch.create({
        tasks: tasks as rayts.TaskSpec[],
        cancels: this.outCancels.splice(0) as rayts.CancelRequest[],
        acks: this.outAcks.splice(0),
        generatorAcks: generatorAcks as rayts.GeneratorAck[],
        submitterId: this.submitterId,
      });
      this.stream.write(batch);
    }
  }

  private shut(e: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.events.onClosed(this, e);
    this.client.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.stream?.end();
    } catch {
      /* already gone */
    }
    this.client.close();
  }
}
