/**
 * `rayts list objects`: asks every alive node, and every running driver (a joined driver keeps what it
 * puts in its own store), for the objects its store holds. Edge nodes are skipped: they are reachable
 * only through their tunnel, which relays the core services alone.
 */
import * as grpc from '@grpc/grpc-js';
import { shortId } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { CHANNEL_OPTIONS } from '../rpc/services.js';
import { StoreClient } from '../rpc/job-services.js';
import { callUnary } from '../rpc/auth.js';
import { channelCredentials } from '../rpc/tls.js';

export interface ObjectRow {
  objectId: string;
  sizeBytes: number;
  size: string;
  state: string;
  format: string;
  /** "node 1a2b3c4d…" or "driver job 0a1b2c3d". */
  location: string;
  nodeId: string;
  jobId: string;
  address: string;
}

function human(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}

/** At most `limit` objects in all; `total` counts every object the answering stores hold. */
export async function listObjects(
  nodes: readonly rayts.NodeInfo[],
  jobs: readonly rayts.JobInfo[],
  token: string,
  limit: number,
): Promise<{ rows: ObjectRow[]; total: number; unreachable: string[] }> {
  const targets: { address: string; nodeId: string; jobId: string; location: string }[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    if (!n.alive || n.kind === 'edge' || seen.has(n.address)) continue;
    seen.add(n.address);
    targets.push({ address: n.address, nodeId: n.nodeId, jobId: '', location: `node ${shortId(n.nodeId)}` });
  }
  for (const j of jobs) {
    // An embedded driver shares its node's store (same address): listed once, as the node.
    if (j.state !== 'RUNNING' || !j.jobId || !j.driverAddress || seen.has(j.driverAddress)) continue;
    seen.add(j.driverAddress);
    targets.push({ address: j.driverAddress, nodeId: '', jobId: j.jobId, location: `driver job ${j.jobId}` });
  }
  const unreachable: string[] = [];
  let total = 0;
  const answers = await Promise.all(
    targets.map(async (t) => {
      const c = new StoreClient(t.address, channelCredentials(), CHANNEL_OPTIONS);
      try {
        const r = await callUnary<rayts.IListRequest, rayts.ObjectList>(c, 'listObjects', { limit }, token, 5_000);
        total += r.total;
        return (r.objects as rayts.ObjectInfo[]).map(
          (o): ObjectRow => ({
            objectId: o.objectId,
            sizeBytes: o.sizeBytes,
            size: human(o.sizeBytes),
            state: o.state,
            format: o.format,
            location: t.location,
            nodeId: t.nodeId,
            jobId: t.jobId,
            address: t.address,
          }),
        );
      } catch (e) {
        unreachable.push(`${t.location} at ${t.address}: ${(e as Error).message}`);
        return [];
      } finally {
        c.close();
      }
    }),
  );
  return { rows: answers.flat().slice(0, limit), total, unreachable };
}
