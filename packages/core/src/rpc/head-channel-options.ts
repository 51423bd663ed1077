/**
 * Channel options for long-lived clients of the head (node daemons, drivers' cluster view and head
 * calls). grpc-js backs reconnect attempts off up to 120 s by default; after a head restart a node
 * would then find it long after the dead deadline. Attempts here stay at most 1 s apart.
 */
import type * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from './services.js';

export const HEAD_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  ...CHANNEL_OPTIONS,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
});
