/**
 * Pulls stored objects from other processes into the local store. A PullManager merges concurrent pulls
 * of one object and resumes a broken transfer from its last offset; this class chooses the wire for each
 * attempt:
 *
 * - the peer's framed TCP data plane (data-plane-client.ts) when its address is directly reachable and it
 *   has one (asked once per peer with TransferService.DataPlane): bytes go from the socket straight into
 *   shared memory;
 * - otherwise NodeService.PullObject, a gRPC stream of chunks (edge nodes and relayed dials, peers
 *   without a data plane, a data plane that cannot be reached, or `RAYTS_DATA_PLANE=0`).
 *
 * The JS heap never holds the object whole on either path.
 */
import * as grpc from '@grpc/grpc-js';
import { AuthenticationError, ObjectLostError, PULL_CHUNK_BYTES, shortId } from '@samsara/ray-common';
import { PullManager, type PullSink, type StoredMeta } from '@samsara/ray-object-store';
import type { rayts } from '@samsara/ray-proto';
import { NodeClient } from './services.js';
import { dialPeer, peerRoute } from '../edge/edge-address.js';
import { authMetadata, fromGrpcError } from './auth.js';
import type { ProcessStore } from '../owner/process-store.js';
import { DataPlaneClient, DataPlaneUnreachableError } from './data-plane-client.js';
import { DATA_PLANE_VERSION } from './data-frames.js';
import { TransferClient } from './transfer-service.js';
import { objectPulledBytes, objectPulls } from '../metrics/node-metrics.js';

/** False when `RAYTS_DATA_PLANE=0`: objects move over gRPC only (this process neither serves nor uses the data plane). */
export function dataPlaneEnabled(): boolean {
  return process.env.RAYTS_DATA_PLANE !== '0';
}

const DATA_PLANE_INFO_TIMEOUT_MS = 5000;
/** After a data plane could not be reached, pulls from that peer use gRPC this long before trying again. */
const UNREACHABLE_RETRY_MS = 60_000;

export class PullClient {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly transferClients = new Map<string, grpc.Client>();
  /** Data-plane port of each peer (0: pull over gRPC). */
  private readonly dataPorts = new Map<string, Promise<number>>();
  private readonly manager: PullManager;
  private readonly data: DataPlaneClient;
  private readonly useDataPlane: boolean;

  constructor(
    private readonly token: string,
    store: ProcessStore,
    opts: { readonly dataPlane?: boolean } = {},
  ) {
    this.useDataPlane = opts.dataPlane ?? dataPlaneEnabled();
    this.data = new DataPlaneClient(token);
    this.manager = new PullManager(store, { source: (location, id, sink) => this.transfer(location, id, sink) });
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

  /** One attempt: the data plane when the peer has one we can reach, else gRPC. */
  private async transfer(location: string, id: string, sink: PullSink): Promise<void> {
    const from = sink.offset;
    let transport: 'data_plane' | 'grpc' = 'grpc';
    try {
      transport = await this.transferOnce(location, id, sink);
      objectPulls.inc({ transport, result: 'ok' });
    } catch (e) {
      objectPulls.inc({ transport, result: 'error' });
      throw e;
    } finally {
      if (sink.offset > from) objectPulledBytes.inc({ transport }, sink.offset - from);
    }
  }

  private async transferOnce(location: string, id: string, sink: PullSink): Promise<'data_plane' | 'grpc'> {
    if (this.useDataPlane && !peerRoute(location).header) {
      const port = await this.dataPort(location);
      const host = hostOf(location);
      if (port > 0 && host) {
        try {
          await this.data.pull({ host, port, location }, id, sink);
          return 'data_plane';
        } catch (e) {
          if (!(e instanceof DataPlaneUnreachableError)) throw e;
          // This attempt and the next pulls go over gRPC; the port is asked again after a while (the
          // peer may have restarted, or a firewall lets only gRPC through).
          this.noDataPlaneFor(location);
        }
      }
    }
    await this.grpcTransfer(location, id, sink);
    return 'grpc';
  }

  private noDataPlaneFor(location: string): void {
    const none = Promise.resolve(0);
    this.dataPorts.set(location, none);
    setTimeout(() => {
      if (this.dataPorts.get(location) === none) this.dataPorts.delete(location);
    }, UNREACHABLE_RETRY_MS).unref();
  }

  /** The peer's data-plane port, asked once: 0 when it has none (older peer, or turned off). */
  private dataPort(location: string): Promise<number> {
    let p = this.dataPorts.get(location);
    if (!p) {
      p = this.askDataPlane(location).catch((e: unknown) => {
        if (e instanceof AuthenticationError) {
          this.dataPorts.delete(location);
          throw e;
        }
        // Not cached: gRPC is tried for this attempt and the question asked again at the next pull.
        this.dataPorts.delete(location);
        return 0;
      });
      this.dataPorts.set(location, p);
    }
    return p;
  }

  private askDataPlane(location: string): Promise<number> {
    let c = this.transferClients.get(location);
    if (!c) {
      c = dialPeer(TransferClient, location);
      this.transferClients.set(location, c);
    }
    const client = c as unknown as {
      dataPlane(r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: rayts.DataPlaneInfo) => void): void;
    };
    return new Promise<number>((resolve, reject) => {
      client.dataPlane({}, authMetadata(this.token), { deadline: Date.now() + DATA_PLANE_INFO_TIMEOUT_MS }, (err, res) => {
        if (err?.code === grpc.status.UNIMPLEMENTED) resolve(0);
        else if (err) reject(fromGrpcError(err, 'TransferService.DataPlane', location));
        else resolve(res && res.version === DATA_PLANE_VERSION ? res.port : 0);
      });
    });
  }

  private async grpcTransfer(location: string, id: string, sink: PullSink): Promise<void> {
    const stream = (this.client(location) as unknown as {
      pullObject(r: unknown, md: grpc.Metadata): grpc.ClientReadableStream<rayts.ObjectChunk>;
    }).pullObject({ objectId: id, offset: sink.offset, chunkBytes: PULL_CHUNK_BYTES }, authMetadata(this.token));
    let meta: StoredMeta | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<rayts.ObjectChunk>) {
        if (!meta) {
          meta = JSON.parse(chunk.meta) as StoredMeta;
          sink.begin(chunk.totalBytes, meta);
        }
        sink.write(chunk.data);
      }
    } catch (e) {
      stream.cancel();
      if ((e as grpc.ServiceError).code === grpc.status.NOT_FOUND) {
        throw new ObjectLostError(`Object ${shortId(id)} is no longer stored at ${location}.`, {
          hint: 'It was freed or its node restarted; recompute it.',
          ids: { objectId: id, location },
        });
      }
      if (typeof (e as grpc.ServiceError).code === 'number') throw fromGrpcError(e, `PullObject of ${shortId(id)}`, location);
      throw e;
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    for (const c of this.transferClients.values()) c.close();
    this.clients.clear();
    this.transferClients.clear();
    this.data.close();
  }
}

/** The host part of `host:port` or `[v6]:port`, without brackets. */
function hostOf(address: string): string | undefined {
  const i = address.lastIndexOf(':');
  if (i <= 0) return undefined;
  const h = address.slice(0, i);
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
