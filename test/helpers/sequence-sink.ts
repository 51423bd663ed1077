/**
 * An actor that records the sequence numbers it receives and says which of 0..total-1 never arrived:
 * the end of a chain of forwarding actors in the chaos and failure tests (every number must arrive,
 * whatever was killed on the way).
 */
import { actor } from '@samsara/ray';

export const SequenceSink = actor(
  class Sink {
    seen = new Set<number>();
    record(n: number) {
      this.seen.add(n);
      return n;
    }
    missing(total: number) {
      const out: number[] = [];
      for (let i = 0; i < total; i++) if (!this.seen.has(i)) out.push(i);
      return out;
    }
  },
);
