/**
 * Fast failover: when a worker node's channel to the head drops, the head does not wait for heartbeats
 * to lapse. It dials the node's own gRPC address: a refused connection means nothing listens there any
 * more (the process died; the kernel answers with a reset at once), so the node is declared dead now.
 * A probe that connects (the stream broke for another reason) or that times out (the host itself is
 * gone, or a partition) changes nothing: heartbeats decide, as before. Edge nodes are reached through
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
 * Probes a node whose channel dropped, twice (a daemon restarting its listener is not dead); resolves to
 * a death reason when it is gone, else undefined.
 */
export async function confirmNodeGone(address: string, timeoutMs = 500): Promise<string | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const v = await probeAddress(address, timeoutMs);
    if (v !== 'refused') return undefined;
    if (attempt === 0) await new Promise((r) => setTimeout(r, 100));
  }
  return `its connection to the head dropped and nothing listens on ${address} any more (process died)`;
}
