/**
 * Backpressure policies: small checks AND-combined by the executor before it hands an operator more
 * input. The default holds each operator to a budget of bytes in flight — its running work (estimated
 * from its average output) plus its outputs not yet taken downstream — so an unconsumed output stops its
 * producer, and a slow consumer at the end stops the whole pipeline.
 */
import type { PhysicalOperator } from './physical-operator.js';

export interface BackpressurePolicy {
  readonly name: string;
  canAddInput(op: PhysicalOperator, queuedDownstreamBytes: number): boolean;
}

/** Each operator may hold `budgetBytes` in flight; an idle operator may always start one unit. */
export class BytesInFlightPolicy implements BackpressurePolicy {
  readonly name = 'bytes-in-flight';
  constructor(readonly budgetBytes: number) {}
  canAddInput(op: PhysicalOperator, queuedDownstreamBytes: number): boolean {
    const used = op.bytesInFlight() + queuedDownstreamBytes;
    return used === 0 || used < this.budgetBytes;
  }
}
