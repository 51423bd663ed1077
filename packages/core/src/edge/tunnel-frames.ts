/**
 * Reliable sub-streams over the edge tunnel, the part both ends share. Each direction of a sub-stream
 * numbers its frames 1, 2, …; the sender keeps every frame until the receiver acknowledges it
 * (cumulative acks), and after a reconnect resends what is still unacknowledged; the receiver delivers
 * each sequence number once and drops repeats. So an outage that the tunnel survives (shorter than the
 * dead deadline) loses nothing and delivers nothing twice — whatever the sub-stream carries (task
 * batches, result batches, object chunks).
 */

/** A sequenced frame as the sender keeps it until acknowledged. */
export interface OutFrame {
  readonly seq: number;
  readonly kind: 'open' | 'data' | 'end' | 'error';
  readonly method?: string;
  readonly data?: Uint8Array;
  readonly code?: number;
  readonly details?: string;
}

/** Bytes unacknowledged beyond which a writer is told to wait for 'drain' (flow control). */
export const TUNNEL_WINDOW_BYTES = 8 * 1024 * 1024;
/** Bytes unacknowledged beyond which a sub-stream is given up (bounded memory while disconnected). */
export const TUNNEL_MAX_UNACKED_BYTES = 64 * 1024 * 1024;

/** The sending half of one sub-stream direction. */
export class Outbox {
  private nextSeq = 1;
  private readonly frames: OutFrame[] = [];
  unackedBytes = 0;

  push(f: Omit<OutFrame, 'seq'>): OutFrame {
    const frame: OutFrame = { ...f, seq: this.nextSeq++ };
    this.frames.push(frame);
    this.unackedBytes += f.data?.byteLength ?? 0;
    return frame;
  }

  /** Drops frames up to `seq`; returns true when the last frame sent was final and is now acknowledged. */
  ack(seq: number): void {
    while (this.frames.length && this.frames[0].seq <= seq) {
      this.unackedBytes -= this.frames.shift()!.data?.byteLength ?? 0;
    }
  }

  /** Frames to resend after a reconnect, in order. */
  pending(): readonly OutFrame[] {
    return this.frames;
  }

  get empty(): boolean {
    return this.frames.length === 0;
  }

  /** True when the first frame (the open) was never acknowledged. */
  get openUnacked(): boolean {
    return this.frames.length > 0 && this.frames[0].seq === 1;
  }
}

/** The receiving half: in-order, exactly-once delivery by sequence number. */
export class Inbox {
  delivered = 0;
  acked = 0;

  /** 'new' to deliver, 'dup' to drop (already delivered), 'gap' when frames went missing (a bug). */
  accept(seq: number): 'new' | 'dup' | 'gap' {
    if (seq <= this.delivered) return 'dup';
    if (seq !== this.delivered + 1) return 'gap';
    this.delivered = seq;
    return 'new';
  }

  get ackDue(): boolean {
    return this.delivered > this.acked;
  }
}

/** Backoff before reconnect attempt `n` (0-based): exponential with full jitter in [½, 1] of the step. */
export function backoffMs(n: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(n, 20));
  return Math.round(step * (0.5 + random() / 2));
}
