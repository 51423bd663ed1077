/**
 * Serves a process's stored objects to other processes: chunked pulls (gRPC stream back-pressure: the
 * next chunk is written only after the previous one drained) and frees. Also routes OwnerService
 * questions to whichever CoreWorker of this process owns the object.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { PULL_CHUNK_BYTES, encodeError, ObjectLostError } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { ProcessStore } from '../owner/process-store.js';
import type { CoreWorker } from '../owner/core-worker.js';

export function pullObjectHandler(store: ProcessStore) {
  return async (call: grpc.ServerWritableStream<rayts.PullRequest, rayts.IObjectChunk>): Promise<void> => {
    const { objectId } = call.request;
    const data = store.getBytes(objectId);
    if (!data) {
      call.emit('error', { code: status.NOT_FOUND, details: `object ${objectId} is not stored here` });
      return;
    }
    const chunk = Math.min(Math.max(call.request.chunkBytes || PULL_CHUNK_BYTES, 64 * 1024), 16 * 1024 * 1024);
    const total = data.byteLength;
    let offset = Math.max(0, Math.min(total, Math.floor(call.request.offset || 0)));
    if (total === 0) call.write({ data: new Uint8Array(0), offset: 0, totalBytes: 0 });
    while (offset < total) {
      if (call.cancelled) return;
      const end = Math.min(total, offset + chunk);
      const ok = call.write({ data: data.subarray(offset, end), offset, totalBytes: total });
      offset = end;
      if (!ok) await new Promise<void>((resolve) => call.once('drain', () => resolve()));
    }
    call.end();
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
