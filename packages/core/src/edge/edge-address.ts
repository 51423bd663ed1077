/**
 * Edge addresses and how a process dials a peer's NodeService or OwnerService.
 *
 * An edge node opens no listening socket: its address names the head that relays to it,
 * `edge://<edgeId>@<headHost:port>`. Dialing such an address means dialing the head with the metadata
 * `rayts-edge-node: <edgeId>`; the head passes the call into the edge's tunnel (see edge-relay.ts).
 *
 * A process that runs an edge node dials every peer other than its head through the head (metadata
 * `rayts-relay-to: <address>`), since a camera behind NAT may reach nothing else. That mode is
 * process-wide ({@link relayDialsVia}); only the edge agent's process turns it on.
 */
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from '../rpc/services.js';
import { channelCredentials } from '../rpc/tls.js';

export const EDGE_NODE_HEADER = 'rayts-edge-node';
export const RELAY_TO_HEADER = 'rayts-relay-to';

const EDGE_PREFIX = 'edge://';

/** The address submitters use for edge node `edgeId` behind the head at `headAddress`. */
export function edgeAddress(edgeId: string, headAddress: string): string {
  return `${EDGE_PREFIX}${edgeId}@${headAddress}`;
}

/** Splits an edge address; undefined for an ordinary `host:port`. */
export function parseEdgeAddress(address: string): { edgeId: string; headAddress: string } | undefined {
  if (!address.startsWith(EDGE_PREFIX)) return undefined;
  const rest = address.slice(EDGE_PREFIX.length);
  const at = rest.indexOf('@');
  if (at <= 0 || at === rest.length - 1) return undefined;
  return { edgeId: rest.slice(0, at), headAddress: rest.slice(at + 1) };
}

let relayHead: string | undefined;

/**
 * Makes every later {@link dialPeer} of this process go through the head at `headAddress` (undefined
 * turns it off). For the edge agent's process only.
 */
export function relayDialsVia(headAddress: string | undefined): void {
  relayHead = headAddress;
}

/** Where a call to `address` really goes, and the routing metadata it carries. */
export function peerRoute(address: string): { target: string; header?: readonly [string, string] } {
  if (relayHead && address !== relayHead) return { target: relayHead, header: [RELAY_TO_HEADER, address] };
  const edge = parseEdgeAddress(address);
  if (edge) return { target: edge.headAddress, header: [EDGE_NODE_HEADER, edge.edgeId] };
  return { target: address };
}

/** A client of `Ctor`'s service for the peer at `address` (an ordinary, edge or relayed address). */
export function dialPeer(Ctor: grpc.ServiceClientConstructor, address: string): grpc.Client {
  const route = peerRoute(address);
  if (!route.header) return new Ctor(route.target, channelCredentials(), CHANNEL_OPTIONS);
  const [key, value] = route.header;
  const addHeader: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(key, value);
        next(metadata, listener);
      },
    });
  return new Ctor(route.target, channelCredentials(), { ...CHANNEL_OPTIONS, interceptors: [addHeader] });
}
