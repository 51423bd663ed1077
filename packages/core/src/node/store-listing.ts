/**
 * StoreService: what a process's object store holds (id, size, in memory or spilled), for
 * `rayts list objects`. Hosted by every process with a store — node daemons and joined drivers.
 * Responsible only for listing; it never reads or pins an object.
 */
import type * as grpc from '@grpc/grpc-js';
import type { rayts } from '@samsara/ray-proto';
import type { HostedService } from '../rpc/server-host.js';
import { storeServiceDefinition } from '../rpc/job-services.js';
import type { ProcessStore } from '../owner/process-store.js';

/** Default and largest number of objects one ListObjects answer carries. */
export const LIST_OBJECTS_DEFAULT = 1000;
export const LIST_OBJECTS_MAX = 10_000;

export function storeListingService(store: ProcessStore): HostedService {
  const impl = {
    listObjects: async (call: grpc.ServerUnaryCall<rayts.ListRequest, unknown>): Promise<rayts.IObjectList> => {
      const limit = Math.min(Math.max(call.request.limit || LIST_OBJECTS_DEFAULT, 1), LIST_OBJECTS_MAX);
      const { objects, total } = store.list(limit);
      return {
        total,
        objects: objects.map((o) => ({ objectId: o.id, sizeBytes: o.sizeBytes, format: o.format, state: o.state === 'memory' ? 'IN_MEMORY' : 'SPILLED' })),
      };
    },
  };
  return { definition: storeServiceDefinition, implementation: impl as unknown as HostedService['implementation'] };
}
