/**
 * Pulls stored objects from other processes into the local store: NodeService.PullObject streams the
 * object's bytes in chunks (gRPC back-pressure) and a PullManager writes them into shared memory,
 * merging concurrent pulls of one object and resuming a broken stream from its last offset. The JS heap
 * never holds the object whole.
 */
import * as grpc from '@grpc/grpc-js';
import { ObjectLostError, PULL_CHUNK_BYTES, shortId } from '@samsara/ray-common';
import { PullManager, type PullChunk, type StoredMeta } from '@samsara/ray-object-store';
import type { rayts } from '@samsara/ray-proto';
import { NodeClient } from './services.js';
import { dialPeer } from '../edge/edge-address.js';
import { authMetadata, fromGrpcError } from './auth.js';
import type { ProcessStore } from '../owner/process-store.js';

export class PullClient {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly manager: PullManager;

  constructor(
    private readonly token: string,
    store: ProcessStore,
  ) {
    this.manager = new PullManager(store, (location, id, offset) => this.fetch(location, id, offset));
  }

  client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      c = dialPeer(NodeClient, address);
      this.clients.set(address, c);
    }
    return c;
  }

  /** Copies object `id` from `location` into the local store (once, however many ask at a time). */
  pull(id: string, location: string): Promise<void> {
    return this.manager.pull(id, location);
  }

  private async *fetch(location: string, id: string, offset: number): AsyncIterable<PullChunk> {
    const stream = (this.client(location) as unknown as {
      pullObject(r: unknown, md: grpc.Metadata): grpc.ClientReadableStream<rayts.ObjectChunk>;
    }).pullObject({ objectId: id, offset, chunkBytes: PULL_CHUNK_BYTES }, authMetadata(this.token));
    let meta: StoredMeta | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<rayts.ObjectChunk>) {
        if (!meta) meta = JSON.parse(chunk.meta) as StoredMeta;
        yield { data: chunk.data, totalBytes: chunk.totalBytes, meta };
      }
    } catch (e) {
      if ((e as grpc.ServiceError).code === grpc.status.NOT_FOUND) {
        throw new ObjectLostError(`Object ${shortId(id)} is no longer stored at ${location}.`, {
          hint: 'It was freed or its node restarted; recompute it.',
          ids: { objectId: id, location },
        });
      }
      throw fromGrpcError(e, 'PullObject', location);
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
