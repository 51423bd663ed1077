/**
 * grpc-js definitions of the head's JobService (`rayts job ...`) and of the StoreService every process
 * with an object store hosts (`rayts list objects`). Built from the protobufjs static code like
 * services.ts; kept apart so the job and listing RPCs evolve without touching the core services.
 */
import * as grpc from '@grpc/grpc-js';
import { pb } from './services.js';

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

function method<Req, Res>(service: string, name: string, req: Codec<Req>, res: Codec<Res>, responseStream = false): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/rayts.${service}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (m: Req) => Buffer.from(req.encode(m).finish()),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (m: Res) => Buffer.from(res.encode(m).finish()),
    responseDeserialize: (b: Buffer) => res.decode(b),
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export const jobServiceDefinition = {
  submitJob: method('JobService', 'SubmitJob', pb.SubmitJobRequest as any, pb.SubmitJobReply as any),
  getJob: method('JobService', 'GetJob', pb.JobRequest as any, pb.GetJobReply as any),
  jobLogs: method('JobService', 'JobLogs', pb.JobLogsRequest as any, pb.JobLogChunk as any, true),
  stopJob: method('JobService', 'StopJob', pb.JobRequest as any, pb.StopJobReply as any),
} satisfies grpc.ServiceDefinition;

export const storeServiceDefinition = {
  listObjects: method('StoreService', 'ListObjects', pb.ListRequest as any, pb.ObjectList as any),
} satisfies grpc.ServiceDefinition;
/* eslint-enable @typescript-eslint/no-explicit-any */

export const JobClient = grpc.makeGenericClientConstructor(jobServiceDefinition, 'JobService');
export const StoreClient = grpc.makeGenericClientConstructor(storeServiceDefinition, 'StoreService');
