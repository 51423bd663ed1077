/**
 * Pulls a stored object from another process in chunks (NodeService.PullObject). The reader applies
 * back-pressure through the gRPC stream; the result is assembled into one preallocated buffer.
 */
import * as grpc from '@grpc/grpc-js';
import { ObjectLostError, PULL_CHUNK_BYTES, shortId } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import { NodeClient, CHANNEL_OPTIONS } from './services.js';
import { authMetadata, fromGrpcError } from './auth.js';

export class PullClient {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(private readonly token: string) {}

  client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      c = new NodeClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(address, c);
    }
    return c;
  }

  async pull(id: string, location: string): Promise<Uint8Array> {
    const stream = (this.client(location) as unknown as {
      pullObject(r: unknown, md: grpc.Metadata): grpc.ClientReadableStream<rayts.ObjectChunk>;
    }).pullObject({ objectId: id, offset: 0, chunkBytes: PULL_CHUNK_BYTES }, authMetadata(this.token));
    let out: Uint8Array | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<rayts.ObjectChunk>) {
        if (!out) out = new Uint8Array(chunk.totalBytes);
        out.set(chunk.data, chunk.offset);
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
    return out ?? new Uint8Array(0);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
