/**
 * Serves a process's stored objects to other processes over gRPC: chunked pulls (gRPC stream
 * back-pressure: the next chunk is written only after the previous one drained) and frees. Also routes
 * OwnerService questions to whichever CoreWorker of this process owns the object.
 *
 * PullObject is the fallback wire for objects: peers that can reach this process's framed TCP data plane
 * pull there (rpc/data-plane-server.ts); edge nodes, relayed dials and older peers pull here.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { PULL_CHUNK_BYTES, encodeError, ObjectLostError, InvalidArgumentError } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { ProcessStore } from '../owner/process-store.js';
import type { CoreWorker } from '../owner/core-worker.js';
import { objectServedBytes } from '../metrics/node-metrics.js';

export function pullObjectHandler(store: ProcessStore) {
  return async (call: grpc.ServerWritableStream<rayts.PullRequest, rayts.IObjectChunk>): Promise<void> => {
    const { objectId } = call.request;
    // Pinned while it streams, so that it is not spilled or freed under the reader.
    const view = await store.getAsync(objectId);
    if (!view) {
      call.emit('error', { code: status.NOT_FOUND, details: `object ${objectId} is not stored here` });
      return;
    }
    try {
      const chunkBytes = Math.min(Math.max(call.request.chunkBytes || PULL_CHUNK_BYTES, 64 * 1024), 16 * 1024 * 1024);
      const total = view.meta.sizeBytes;
      const meta = JSON.stringify(view.meta);
      let offset = Math.max(0, Math.min(total, Math.floor(call.request.offset || 0)));
      if (offset >= total) call.write({ data: new Uint8Array(0), offset, totalBytes: total, meta });
      for await (const chunk of store.readChunks(objectId, offset, chunkBytes)) {
        if (call.cancelled) return;
        // Chunks are views of shared memory valid until the next one: the message gets its own copy.
        const ok = call.write({ data: Buffer.from(chunk), offset, totalBytes: total, meta });
        objectServedBytes.inc({ transport: 'grpc' }, chunk.byteLength);
        offset += chunk.byteLength;
        if (!ok) await new Promise<void>((resolve) => call.once('drain', () => resolve()));
      }
      call.end();
    } finally {
      view.release();
    }
  };
}

export function freeObjectsHandler(store: ProcessStore) {
  return async (call: grpc.ServerUnaryCall<rayts.FreeObjectsRequest, unknown>) => {
    for (const id of call.request.objectIds) store.delete(id);
    return {};
  };
}

/** OwnerService: answers borrowers for every CoreWorker of this process. */
export class OwnerRouter {
  readonly owners = new Set<CoreWorker>();

  /** Borrower protocol: applies a borrower's deltas at the CoreWorkers owning the objects. */
  updateBorrowersHandler() {
    return async (call: grpc.ServerUnaryCall<rayts.BorrowUpdate, unknown>): Promise<rayts.IBorrowReply> => {
      const borrower = call.request.borrower;
      // Decoded messages carry defaults ('' and 0) for absent fields.
      const deltas = call.request.deltas as { objectId: string; delta: number }[];
      const bad = deltas.find((d) => !d.objectId || !Number.isInteger(d.delta) || Math.abs(d.delta) > 1_000_000);
      if (!borrower || bad) {
        throw new InvalidArgumentError(
          `UpdateBorrowers needs a borrower address and integer deltas for object ids (got borrower "${borrower}"${bad ? `, delta ${bad.delta} for object "${bad.objectId}"` : ''}).`,
          { hint: 'This is a rayts internal call; check that every process of the cluster runs the same rayts version.' },
        );
      }
      const unknown: string[] = [];
      const byOwner = new Map<CoreWorker, { objectId: string; delta: number }[]>();
      for (const d of deltas) {
        const owner = [...this.owners].find((o) => o.objects.has(d.objectId));
        if (!owner) {
          unknown.push(d.objectId);
          continue;
        }
        const l = byOwner.get(owner) ?? [];
        l.push({ objectId: d.objectId, delta: d.delta });
        byOwner.set(owner, l);
      }
      for (const [owner, l] of byOwner) unknown.push(...owner.updateBorrowers(borrower, l));
      return { unknownIds: unknown };
    };
  }

  resolveHandler() {
    return async (call: grpc.ServerUnaryCall<rayts.ResolveRequest, unknown>): Promise<rayts.IResolveReply> => {
      const req = call.request;
      const out: rayts.IResolvedObject[] = [];
      for (const id of req.objectIds) {
        const owner = [...this.owners].find((o) => o.objects.has(id));
        if (!owner) {
          out.push({
            objectId: id,
            ready: true,
            isError: true,
            inline: encodeError(
              new ObjectLostError(`Object ${id} is not known to its owner (freed, or the owner restarted).`, { ids: { objectId: id } }),
            ),
          });
          continue;
        }
        const r = await owner.answerResolve({ objectIds: [id], timeoutMs: req.timeoutMs } as rayts.ResolveRequest);
        out.push(...(r.objects ?? []));
      }
      return { objects: out };
    };
  }
}
