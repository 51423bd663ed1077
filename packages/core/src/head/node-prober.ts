/**
 * Fast failover: when a worker node's channel to the head drops, the head does not wait for heartbeats
 * to lapse. It dials the node's own gRPC address: a refused connection means nothing listens there any
 * more (the process died; the kernel answers with a reset at once), so the node is declared dead now.
 * A probe that connects (the stream broke for another reason) or that times out (the host itself is
 * gone, or a partition) declares nothing: the node is probed again while its channel stays away, and
 * heartbeats decide hung hosts and partitions, as before. Edge nodes are reached through
 * their tunnel and are never probed. Responsible for the probe verdict only, not for what death does.
 */
import { connect } from 'node:net';

export type ProbeVerdict = 'refused' | 'listening' | 'unknown';

/** Dials `address` (HOST:PORT) once; `refused` only on ECONNREFUSED. */
export function probeAddress(address: string, timeoutMs: number): Promise<ProbeVerdict> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  if (!host || !Number.isInteger(port) || port <= 0) return Promise.resolve('unknown');
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (v: ProbeVerdict) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    sock.once('connect', () => done('listening'));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}

/**
 * Watches a node whose channel dropped until it is known gone or back. One probe is not enough: a head
 * under load may time a dial out before it sees the refusal, and a dying process may still hold its
 * listening socket for a moment after its channel's socket closed. So the node is probed again, a little
 * less often each time, for as long as `stillLost()` holds (its channel has not come back and it is still
 * alive in the table) and at most `forMs` (past that, heartbeats decide). Two refusals in a row (a daemon
 * restarting its listener is not dead) resolve to a death reason; anything else to undefined.
 */
export async function watchLostNode(
  address: string,
  stillLost: () => boolean,
  o: { forMs: number; timeoutMs?: number } = { forMs: 30_000 },
): Promise<string | undefined> {
  const until = Date.now() + o.forMs;
  let refusals = 0;
  let pauseMs = 100;
  while (stillLost() && Date.now() < until) {
    const v = await probeAddress(address, o.timeoutMs ?? 1000);
    refusals = v === 'refused' ? refusals + 1 : 0;
    if (refusals >= 2) return `its connection to the head dropped and nothing listens on ${address} any more (process died)`;
    await new Promise((r) => setTimeout(r, refusals ? 100 : pauseMs).unref());
    if (!refusals) pauseMs = Math.min(1000, pauseMs * 2);
  }
  return undefined;
}
