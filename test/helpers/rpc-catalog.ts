/**
 * Every gRPC method rayts defines, enumerated from the code rather than listed by hand, so that a new
 * service or method cannot be left out of the auth sweep and the fuzzers:
 *  - `generatedMethods()`: the services of the generated protobuf module (proto/gen/rayts.js, made from
 *    proto/rayts.proto), each method with its request type;
 *  - `hostedDefinitions()`: every grpc-js ServiceDefinition exported by packages/core/src/rpc/*.ts, which
 *    say whether a method streams.
 * HTTP routes (the dashboard, branch ops) plug in through http-routes.ts.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { rayts } from '@samsara/ray-proto';

export interface GeneratedMethod {
  readonly service: string;
  readonly method: string;
  /** `/rayts.Service/Method` */
  readonly path: string;
  /** The request message type name in the generated module (e.g. `RegisterNodeRequest`). */
  readonly requestType: string;
}

export function generatedMethods(): GeneratedMethod[] {
  const out: GeneratedMethod[] = [];
  const ns = rayts as unknown as Record<string, { prototype?: object }>;
  for (const [service, ctor] of Object.entries(ns)) {
    const proto = ctor?.prototype as Record<string, unknown> | undefined;
    if (!proto || typeof proto !== 'object') continue;
    // A generated service's prototype inherits protobufjs's rpc.Service (it has rpcCall).
    if (typeof (proto as { rpcCall?: unknown }).rpcCall !== 'function') continue;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor') continue;
      const fn = proto[key];
      if (typeof fn !== 'function') continue;
      const m = /\$root\.rayts\.(\w+), \$root\.rayts\.(\w+)/.exec(fn.toString());
      if (!m) continue;
      out.push({ service, method: fn.name, path: `/rayts.${service}/${fn.name}`, requestType: m[1] });
    }
  }
  return out;
}

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
