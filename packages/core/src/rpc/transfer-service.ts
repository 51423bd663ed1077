/**
 * grpc-js definition of TransferService, which tells a peer where a process's object data plane listens
 * (data-plane-server.ts). Built from the protobufjs static code like services.ts; kept apart so the data
 * plane evolves without touching the core services.
 */
import * as grpc from '@grpc/grpc-js';
import type { rayts } from '@samsara/ray-proto';
import { pb } from './services.js';

export const transferServiceDefinition = {
  dataPlane: {
    path: '/rayts.TransferService/DataPlane',
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: rayts.IEmpty) => Buffer.from(pb.Empty.encode(m).finish()),
    requestDeserialize: (b: Buffer) => pb.Empty.decode(b),
    responseSerialize: (m: rayts.IDataPlaneInfo) => Buffer.from(pb.DataPlaneInfo.encode(m).finish()),
    responseDeserialize: (b: Buffer) => pb.DataPlaneInfo.decode(b),
    originalName: 'dataPlane',
  },
} satisfies grpc.ServiceDefinition;

export const TransferClient = grpc.makeGenericClientConstructor(transferServiceDefinition, 'TransferService');
