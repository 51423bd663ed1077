/**
 * The body of `rayts-edge` (cli.ts is the launcher that loads it): joins a dash cam (or any NAT'd device) to a rayts cluster as an edge node.
 *
 *   rayts-edge --address 10.0.0.5:6380 --resources '{"camera":1}' --labels device=cam-01,soc=qcs6490
 *
 * The token comes from --token, RAYTS_TOKEN, or the local session file, as for any node. Prints one
 * line when joined and keeps running; exits non-zero with a clear message on bad input or a refused token.
 */
import { isRayError } from '@samsara/ray-common';
import { parseAgentArgs, runEdgeAgent, USAGE } from './agent.js';

/** How often `rayts-edge` says it is still waiting for an unreachable head. */
const WAITING_NOTICE_MS = Number(process.env.RAYTS_EDGE_WAIT_NOTICE_MS ?? 5000);

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`Usage: ${USAGE}\n`);
    return;
  }
  const config = parseAgentArgs(argv);
  // Joining waits for the head as long as it takes (a dash cam boots before the network is up): say so
  // on the terminal, and keep saying it, rather than only in the log.
  process.stdout.write(`rayts-edge: joining the cluster at ${config.address}...\n`);
  const startedAt = Date.now();
  const waiting = setInterval(() => {
    const s = Math.round((Date.now() - startedAt) / 1000);
    process.stdout.write(
      `rayts-edge: still cannot reach the head at ${config.address} after ${s} s; retrying with backoff. ` +
        'Check the address and that `rayts start --head` runs there (details in the log under the work dir).\n',
    );
  }, WAITING_NOTICE_MS);
  waiting.unref();
  let node;
  try {
    node = await runEdgeAgent(config);
  } finally {
    clearInterval(waiting);
  }
  const res = Object.entries(config.resources).map(([k, v]) => `${k}=${v}`).join(',') || 'none';
  const labels = Object.entries(config.labels).map(([k, v]) => `${k}=${v}`).join(',') || 'none';
  process.stdout.write(
    `rayts-edge: edge node ${node.nodeId} joined the cluster at ${config.address} (address ${node.address}; resources ${res}; labels ${labels}).\n` +
      'It opens no listening port: everything flows over its connection to the head. Stop it with SIGTERM, or `rayts stop` on this machine.\n',
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const msg = isRayError(e) ? `${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}` : String((e as Error)?.stack ?? e);
  process.stderr.write(`rayts-edge: ${msg}\n`);
  process.exit(isRayError(e) && e.code === 'INVALID_ARGUMENT' ? 2 : 1);
});
