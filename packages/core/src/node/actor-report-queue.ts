/**
 * ActorReportQueue: delivers a node's actor state changes (ALIVE, DEAD, …) to the head's actor
 * directory. Responsible for not losing the last word on an actor while the head is unreachable (down
 * or restarting): a report that fails to connect is kept — only the newest per actor — and sent again
 * every `retryMs` until the head takes it, so an actor that came up or ended while the head was down is
 * known to the restarted head. A report the head refuses (bad input) is dropped with a warning.
 * Not responsible for ordering across actors, nor for reports a newer one replaced.
 */
import { isRayError, type Logger } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';

interface Entry {
  readonly info: rayts.IActorInfo;
  sending: boolean;
}

export class ActorReportQueue {
  /** Newest report per actor, until the head confirmed it. */
  private readonly latest = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly send: (info: rayts.IActorInfo) => Promise<unknown>,
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  /** Number of reports waiting for the head. */
  get waiting(): number {
    return this.latest.size;
  }

  report(info: rayts.IActorInfo): void {
    if (this.closed) return;
    const id = info.actorId ?? '';
    const e: Entry = { info, sending: false };
    this.latest.set(id, e);
    this.deliver(id, e);
  }

  private deliver(id: string, e: Entry): void {
    e.sending = true;
    this.send(e.info).then(
      () => {
        e.sending = false;
        if (this.latest.get(id) === e) this.latest.delete(id);
      },
      (err: unknown) => {
        e.sending = false;
        if (this.latest.get(id) !== e) return;
        if (isRayError(err) && err.code === 'CONNECTION') {
          this.log.debug({ actorId: id, err: (err as Error).message }, 'head unreachable; actor report kept for retry');
          this.arm();
          return;
        }
        this.latest.delete(id);
        this.log.warn({ actorId: id, err: (err as Error)?.message ?? String(err) }, 'the head refused an actor report');
      },
    );
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const [id, e] of this.latest) if (!e.sending) this.deliver(id, e);
    }, this.retryMs);
    this.timer.unref();
  }

  /** Stops retrying; reports still waiting are dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.latest.clear();
  }
}
