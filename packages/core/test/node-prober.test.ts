/**
 * The fast-failover probe (head/node-prober.ts) against real sockets on loopback: a node whose listener
 * is still open when its channel drops is probed again until it closes, and a node whose channel comes
 * back is left alone.
 */
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { watchLostNode } from '../src/head/node-prober.js';

function listen(): Promise<{ server: Server; address: string }> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1', () => resolve({ server, address: `127.0.0.1:${(server.address() as { port: number }).port}` }));
  });
}

describe('watchLostNode', () => {
  it('probe - a listener that closes after the channel dropped is found gone on a later probe', async () => {
    const { server, address } = await listen();
    let probes = 0;
    const verdict = watchLostNode(address, () => {
      // Close the listener only after the first probes found it listening (the dying-process race).
      if (++probes === 3) server.close();
      return true;
    }, { forMs: 30_000 });
    expect(await verdict).toMatch(/nothing listens on 127\.0\.0\.1:\d+/);
    expect(probes).toBeGreaterThan(3);
  });

  it('probe - a node whose channel came back is not declared dead', async () => {
    const { server, address } = await listen();
    let calls = 0;
    expect(await watchLostNode(address, () => ++calls < 3, { forMs: 30_000 })).toBeUndefined();
    server.close();
  });

  it('probe - gives up after forMs while the node still listens (heartbeats decide)', async () => {
    const { server, address } = await listen();
    expect(await watchLostNode(address, () => true, { forMs: 300 })).toBeUndefined();
    server.close();
  });
});
