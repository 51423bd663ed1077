/**
 * Security sweep: every RPC of every service a head process hosts is called with no credential and with a
 * wrong one (also with the edge relay headers); each must answer UNAUTHENTICATED and give nothing away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { headServiceDefinition, nodeServiceDefinition, ownerServiceDefinition } from '../packages/core/src/rpc/services.js';
import { jobServiceDefinition, storeServiceDefinition } from '../packages/core/src/rpc/job-services.js';
import { CliCluster } from './helpers/cli-cluster.js';

const services: Record<string, grpc.ServiceDefinition> = {
  HeadService: headServiceDefinition,
  NodeService: nodeServiceDefinition,
  OwnerService: ownerServiceDefinition,
  JobService: jobServiceDefinition,
  StoreService: storeServiceDefinition,
};

const raw = (b: Buffer) => b;

function callRaw(client: grpc.Client, def: grpc.MethodDefinition<unknown, unknown>, md: grpc.Metadata): Promise<grpc.status> {
  return new Promise((resolve) => {
    const opts = { deadline: Date.now() + 10_000 };
    const empty = Buffer.alloc(0);
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, raw, raw, empty, md, opts, (err) => resolve(err ? err.code : grpc.status.OK));
      return;
    }
    const call = def.requestStream
      ? client.makeBidiStreamRequest(def.path, raw, raw, md, opts)
      : client.makeServerStreamRequest(def.path, raw, raw, empty, md, opts);
    let data = false;
    call.on('data', () => (data = true));
    call.on('error', (e: grpc.ServiceError) => resolve(e.code));
    call.on('status', (s: grpc.StatusObject) => resolve(data ? grpc.status.OK : s.code));
    if (def.requestStream) (call as grpc.ClientDuplexStream<Buffer, Buffer>).write(empty);
  });
}

describe('authentication sweep', () => {
  let cluster: CliCluster;
  let client: grpc.Client;
  beforeAll(async () => {
    cluster = await CliCluster.start({ numCpus: 1 }, []);
    client = new grpc.Client(cluster.address, grpc.credentials.createInsecure());
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  const variants: [string, () => grpc.Metadata][] = [
    ['no credential', () => new grpc.Metadata()],
    [
      'a wrong token',
      () => {
        const m = new grpc.Metadata();
        m.set('authorization', 'Bearer not-the-token');
        return m;
      },
    ],
    [
      'a wrong token with edge relay headers',
      () => {
        const m = new grpc.Metadata();
        m.set('authorization', 'Bearer not-the-token');
        m.set('rayts-edge-node', 'edge-1');
        m.set('rayts-relay-to', '127.0.0.1:1');
        return m;
      },
    ],
  ];

  for (const [label, md] of variants) {
    it(`every RPC - refused with UNAUTHENTICATED given ${label}`, async () => {
      const results: string[] = [];
      for (const [svc, def] of Object.entries(services)) {
        for (const [name, m] of Object.entries(def)) {
          const code = await callRaw(client, m as grpc.MethodDefinition<unknown, unknown>, md());
          if (code !== grpc.status.UNAUTHENTICATED) results.push(`${svc}.${name} answered ${grpc.status[code]}`);
        }
      }
      expect(results).toEqual([]);
    });
  }

  it('the head still serves callers with the right token after the sweep', async () => {
    const r = await cluster.cli(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nodes: 1 alive');
  });
});
