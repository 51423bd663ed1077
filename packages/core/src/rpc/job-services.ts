/**
 * grpc-js definitions of the head's JobService (`rayts job ...`) and of the StoreService every process
 * with an object store hosts (`rayts list objects`). Built from the protobufjs static code like
 * services.ts; kept apart so the job and listing RPCs evolve without touching the core services.
 */
import * as grpc from '@grpc/grpc-js';
import { method, pb, unary } from './services.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export const jobServiceDefinition = {
  submitJob: unary('JobService', 'SubmitJob', pb.SubmitJobRequest, pb.SubmitJobReply),
  getJob: unary('JobService', 'GetJob', pb.JobRequest, pb.GetJobReply),
  jobLogs: method('JobService', 'JobLogs', pb.JobLogsRequest as any, pb.JobLogChunk as any, false, true),
  stopJob: unary('JobService', 'StopJob', pb.JobRequest, pb.StopJobReply),
} satisfies grpc.ServiceDefinition;

export const storeServiceDefinition = {
  listObjects: unary('StoreService', 'ListObjects', pb.ListRequest, pb.ObjectList),
} satisfies grpc.ServiceDefinition;
/* eslint-enable @typescript-eslint/no-explicit-any */

export const JobClient = grpc.makeGenericClientConstructor(jobServiceDefinition, 'JobService');
export const StoreClient = grpc.makeGenericClientConstructor(storeServiceDefinition, 'StoreService');
