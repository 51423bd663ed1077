/**
 * Every gRPC method rayts defines, enumerated from the code rather than listed by hand, so that a new
 * service or method cannot be left out of the auth sweep and the fuzzers:
 *  - `generatedMethods()`: the services of proto/rayts.proto (what the generated module and the grpc-js
 *    definitions are made from), each method with its request type;
 *  - `hostedDefinitions()`: every grpc-js ServiceDefinition exported by packages/core/src/rpc/*.ts, which
 *    say whether a method streams.
 * HTTP routes (the dashboard, branch ops) plug in through http-routes.ts.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export interface GeneratedMethod {
  readonly service: string;
  readonly method: string;
  /** `/rayts.Service/Method` */
  readonly path: string;
  /** The request message type name in the generated module (e.g. `RegisterNodeRequest`). */
  readonly requestType: string;
}

export function generatedMethods(): GeneratedMethod[] {
  // The generated module carries messages only (services are built in rpc/services.ts), so the services
  // are read from the .proto it is made from — parsed here, in the test, never in the product.
  const root = protobuf.loadSync(PROTO_FILE);
  const ns = root.lookup('rayts') as protobuf.Namespace;
  const out: GeneratedMethod[] = [];
  for (const svc of ns.nestedArray) {
    if (!(svc instanceof protobuf.Service)) continue;
    for (const m of svc.methodsArray) {
      out.push({ service: svc.name, method: m.name, path: `/rayts.${svc.name}/${m.name}`, requestType: m.requestType });
    }
  }
  return out;
}

const PROTO_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../proto/rayts.proto');
const RPC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/core/dist/rpc');

/** path → grpc-js method definition, from every ServiceDefinition the core's rpc modules export. */
export async function hostedDefinitions(): Promise<Map<string, grpc.MethodDefinition<unknown, unknown>>> {
  const out = new Map<string, grpc.MethodDefinition<unknown, unknown>>();
  for (const f of readdirSync(RPC_DIR).filter((x) => x.endsWith('.js'))) {
    const mod = (await import(pathToFileURL(join(RPC_DIR, f)).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (!v || typeof v !== 'object') continue;
      for (const m of Object.values(v as Record<string, unknown>)) {
        const d = m as grpc.MethodDefinition<unknown, unknown>;
        if (d && typeof d === 'object' && typeof d.path === 'string' && d.path.startsWith('/rayts.')) out.set(d.path, d);
      }
    }
  }
  return out;
}
