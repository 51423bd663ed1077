/**
 * grpc-js service definitions built from the protobufjs static code in `@samsara/ray-proto`. No .proto
 * is parsed at run time. The generated message classes stay inside packages/core/src/rpc and the
 * components that speak the wire; they never appear in a public type.
 */
import * as grpc from '@grpc/grpc-js';
import proto from '@samsara/ray-proto';
import { MAX_MESSAGE_BYTES } from '@samsara/ray-common';

export const pb = proto.rayts;
export type pbt = typeof proto.rayts;

export interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

/** A grpc-js method definition over protobufjs static codecs (shared with job-services.ts). */
export function method<Req, Res>(
  service: string,
  name: string,
  req: Codec<Req>,
  res: Codec<Res>,
  requestStream: boolean,
  responseStream: boolean,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/rayts.${service}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: (m: Req) => Buffer.from(req.encode(m).finish()),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (m: Res) => Buffer.from(res.encode(m).finish()),
    responseDeserialize: (b: Buffer) => res.decode(b),
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export const unary = (s: string, n: string, a: any, b: any) => method(s, n, a, b, false, false);

export const headServiceDefinition = {
  registerNode: unary('HeadService', 'RegisterNode', pb.RegisterNodeRequest, pb.RegisterNodeReply),
  nodeChannel: method('HeadService', 'NodeChannel', pb.NodeReport as any, pb.HeadCommand as any, true, true),
  watchCluster: method('HeadService', 'WatchCluster', pb.WatchRequest as any, pb.ClusterView as any, false, true),
  registerJob: unary('HeadService', 'RegisterJob', pb.RegisterJobRequest, pb.RegisterJobReply),
  finishJob: unary('HeadService', 'FinishJob', pb.FinishJobRequest, pb.Empty),
  reportEvents: unary('HeadService', 'ReportEvents', pb.EventBatch, pb.Empty),
  listTasks: unary('HeadService', 'ListTasks', pb.ListRequest, pb.TaskList),
  listJobs: unary('HeadService', 'ListJobs', pb.ListRequest, pb.JobList),
  clusterStatus: unary('HeadService', 'ClusterStatus', pb.Empty, pb.ClusterView),
  shutdown: unary('HeadService', 'Shutdown', pb.ShutdownRequest, pb.Empty),
  actorCall: unary('HeadService', 'ActorCall', pb.ActorDirectoryRequest, pb.ActorDirectoryReply),
  placementGroupCall: unary('HeadService', 'PlacementGroupCall', pb.PlacementGroupRequest, pb.PlacementGroupReply),
  kvCall: unary('HeadService', 'KvCall', pb.KvRequest, pb.KvReply),
  reportActor: unary('HeadService', 'ReportActor', pb.ActorInfo, pb.Empty),
  edgeTunnel: method('HeadService', 'EdgeTunnel', pb.EdgeUp as any, pb.EdgeDown as any, true, true),
} satisfies grpc.ServiceDefinition;

export const nodeServiceDefinition = {
  taskStream: method('NodeService', 'TaskStream', pb.TaskBatch as any, pb.ResultBatch as any, true, true),
  pullObject: method('NodeService', 'PullObject', pb.PullRequest as any, pb.ObjectChunk as any, false, true),
  freeObjects: unary('NodeService', 'FreeObjects', pb.FreeObjectsRequest, pb.Empty),
  nodeStats: unary('NodeService', 'NodeStats', pb.Empty, pb.NodeInfo),
} satisfies grpc.ServiceDefinition;

export const ownerServiceDefinition = {
  resolveObjects: unary('OwnerService', 'ResolveObjects', pb.ResolveRequest, pb.ResolveReply),
  updateBorrowers: unary('OwnerService', 'UpdateBorrowers', pb.BorrowUpdate, pb.BorrowReply),
} satisfies grpc.ServiceDefinition;
/* eslint-enable @typescript-eslint/no-explicit-any */

export const HeadClient = grpc.makeGenericClientConstructor(headServiceDefinition, 'HeadService');
export const NodeClient = grpc.makeGenericClientConstructor(nodeServiceDefinition, 'NodeService');
export const OwnerClient = grpc.makeGenericClientConstructor(ownerServiceDefinition, 'OwnerService');

/** Channel options every rayts client and server uses: bounded message sizes, keepalive for dead peers. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Generous: a node busy starting hundreds of threads answers pings late; node death is decided by
  // heartbeats, not by keepalive.
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_time_between_pings_ms': 5_000,
  'grpc.http2.max_pings_without_data': 0,
  'grpc-node.max_session_memory': 256,
  'grpc.enable_retries': 0,
  // A 64 KiB HTTP/2 window caps object pulls at a few tens of MB/s on loopback; readers take 16 MiB.
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
};
