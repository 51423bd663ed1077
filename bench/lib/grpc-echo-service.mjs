/**
 * A generic gRPC service with raw Buffer (de)serializers, so the baselines measure grpc-js and HTTP/2,
 * not protobuf. Three methods:
 *   Unary  echo one message;
 *   Stream the request is a uint32 count n; the server writes n messages of 64 B, one way;
 *   Bidi   echo every message on one long-lived stream;
 *   Bulk   the request is uint32 total bytes, uint32 chunk bytes; the server streams that many bytes in
 *          chunks of that size (one preallocated buffer), one way.
 */
const raw = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };

export const ECHO_SERVICE = Object.freeze({
  unary: { path: '/rayts.bench.Echo/Unary', requestStream: false, responseStream: false, ...raw },
  stream: { path: '/rayts.bench.Echo/Stream', requestStream: false, responseStream: true, ...raw },
  bidi: { path: '/rayts.bench.Echo/Bidi', requestStream: true, responseStream: true, ...raw },
  bulk: { path: '/rayts.bench.Echo/Bulk', requestStream: false, responseStream: true, ...raw },
});

export const MESSAGE_BYTES = 64;
