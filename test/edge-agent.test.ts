/**
 * Issue 6 acceptance: `rayts-edge` agents as separate processes joined to a head started with the CLI
 * (random loopback port, private RAYTS_TMPDIR); this test process is the driver. Outages are SIGSTOP /
 * SIGCONT of an agent process, with RAYTS_DEAD_AFTER_MS=3000 and 200 ms heartbeats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFileSync, readdirSync, readlinkSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, shutdown, remote, actor, get, put, kill, nodes, runtimeContext } from '@samsara/ray';
import { CliCluster, until } from './helpers/cli-cluster.js';
import { quantize, serializeModel, trainTinyClassifier } from '../packages/edge-agent/src/inference/index.js';

const EDGE_CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../packages/edge-agent/dist/cli.js');

interface Agent {
  readonly proc: ChildProcess;
  readonly device: string;
  nodeId: string;
  edgeId: string;
  stopped: boolean;
}

let cluster: CliCluster;
const agents: Agent[] = [];

/** A TCP relay in the test process between an agent and the head, whose connections the test can cut. */
class CuttableLink {
  private readonly sockets = new Set<Socket>();
  private cut_ = false;
  readonly server: Server;
  port = 0;

  constructor(target: number) {
    this.server = createServer((down) => {
      if (this.cut_) return void down.destroy();
      const up = connect(target, '127.0.0.1');
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up);
      up.pipe(down);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Drops every connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.cut_ = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut_ = false;
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

let link: CuttableLink | undefined;

async function startAgent(device: string, via?: string, resources = '{"camera":1}'): Promise<Agent> {
  const proc = spawn(process.execPath, [EDGE_CLI, '--address', via ?? cluster.address, '--resources', resources, '--labels', `device=${device},soc=qcs6490`], {
    env: cluster.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const a: Agent = { proc, device, nodeId: '', edgeId: '', stopped: false };
  agents.push(a);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /edge node ([0-9a-f]+) joined/.test(out) || proc.exitCode !== null, `rayts-edge ${device} to join`);
  const m = /edge node ([0-9a-f]+) joined/.exec(out);
  if (!m) throw new Error(`rayts-edge ${device} failed: ${out}`);
  a.nodeId = m[1];
  a.edgeId = /edge:\/\/([0-9a-f]+)@/.exec(out)?.[1] ?? '';
  return a;
}

function signal(a: Agent, sig: 'SIGSTOP' | 'SIGCONT'): void {
  a.proc.kill(sig);
  a.stopped = sig === 'SIGSTOP';
}

/** Listening TCP sockets owned by `pid`: LISTEN entries of its network namespace whose inode is one of its fds. */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* fd closed meanwhile */
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const file = `/proc/${pid}/net/${table}`;
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) out.push(`${table} ${f[1]}`);
    }
  }
  return out;
}

function socketCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

beforeAll(async () => {
  cluster = await CliCluster.start({ numCpus: 1 }, []);
  await startAgent('cam-01');
  await init({ address: cluster.address, token: cluster.token });
  await until(async () => (await nodes()).some((n) => n.nodeId === agents[0].nodeId && n.alive), 'the edge node in the cluster view');
}, 60_000);

afterAll(async () => {
  await shutdown();
  link?.close();
  for (const a of agents) {
    if (a.stopped) a.proc.kill('SIGCONT');
    a.proc.kill('SIGKILL');
  }
  await cluster?.stop();
});

const whereAmI = remote(() => runtimeContext().nodeId);

describe('rayts-edge agent', () => {
  it('rayts-edge - opens no listening socket, only outbound connections', () => {
    const pid = agents[0].proc.pid!;
    expect(listeningSockets(pid)).toEqual([]);
    expect(socketCount(pid)).toBeGreaterThan(0);
  });

  it('rayts-edge - its work dir is 0700 and its log 0600 (user data and addresses stay private)', () => {
    const a = agents[0];
    const dir = join(cluster.tmp, `edge_${a.edgeId}`);
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(join(dir, 'logs')).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(join(dir, 'logs', `edge-${a.proc.pid}.log`)).mode & 0o777).toString(8)).toBe('600');
  });

  it('status and list nodes - show the agent as kind edge with resources, labels and telemetry', async () => {
    const id = agents[0].nodeId;
    const listed = JSON.parse((await cluster.cli(['list', 'nodes', '--json'])).stdout) as Record<string, unknown>[];
    const n = listed.find((x) => x.nodeId === id) as { kind: string; total: Record<string, number>; labels: Record<string, string>; telemetry?: Record<string, number>; temp: string };
    expect(n.kind).toBe('edge');
    expect(n.total).toMatchObject({ camera: 1, CPU: 1 });
    expect(n.labels).toEqual({ device: 'cam-01', soc: 'qcs6490' });
    await until(async () => !!(await nodes()).find((x) => x.nodeId === id)?.telemetry, 'telemetry from the agent');
    const t = (await nodes()).find((x) => x.nodeId === id)!.telemetry!;
    expect(t.memTotalBytes).toBeGreaterThan(0);
    expect(t.cpuLoad).toBeGreaterThanOrEqual(0);
    const hasThermal = existsSync('/sys/class/thermal') && readdirSync('/sys/class/thermal').some((z) => z.startsWith('thermal_zone'));
    if (hasThermal) expect(typeof t.temperatureC).toBe('number');
    else expect(t.temperatureC).toBeUndefined();
    const status = await cluster.cli(['status']);
    expect(status.code).toBe(0);
    const row = status.stdout.split('\n').find((l) => l.startsWith(id.slice(0, 8)))!;
    expect(row).toMatch(/\bedge\b/);
    expect(row).toContain('camera 0/1');
    expect(row).toContain('device=cam-01,soc=qcs6490');
    if (!hasThermal) expect(row).toMatch(/ - +device=cam-01/);
  });

  it('placement - camera tasks and a device label selector run on the agent', async () => {
    const id = agents[0].nodeId;
    expect(await get(Array.from({ length: 4 }, () => whereAmI.options({ resources: { camera: 1 } }).remote()))).toEqual([id, id, id, id]);
    expect(await get(whereAmI.options({ labelSelector: { device: 'cam-01' } }).remote())).toBe(id);
  });

  it('actors - an actor asking for a camera lives on the agent and keeps its state', async () => {
    const Cam = actor(
      class Cam {
        frames = 0;
        grab(n: number) {
          this.frames += n;
          return { nodeId: runtimeContext().nodeId, frames: this.frames };
        }
      },
    );
    const cam = Cam.options({ resources: { camera: 1 } }).remote();
    expect(await get(cam.grab.remote(2))).toEqual({ nodeId: agents[0].nodeId, frames: 2 });
    expect(await get(cam.grab.remote(3))).toEqual({ nodeId: agents[0].nodeId, frames: 5 });
    await kill(cam);
    await until(async () => (await nodes()).find((n) => n.nodeId === agents[0].nodeId)?.available.camera === 1, 'the camera to be free again');
  });

  it('large objects - a model and a several-MB shard reach a task on the agent and a large result comes back', async () => {
    const tiny = trainTinyClassifier({ trainSize: 200, testSize: 20, epochs: 1 });
    const model = serializeModel(quantize(tiny.model, tiny.calibration));
    const shard = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < shard.length; i++) shard[i] = (i * 31) & 0xff;
    const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) % 1_000_000_007, 0);
    const [modelRef, shardRef] = await Promise.all([put(model), put(shard)]);
    const evaluate = remote((m: Uint8Array, s: Uint8Array) => {
      const checksum = (b: Uint8Array) => b.reduce((acc, x) => (acc + x) % 1_000_000_007, 0);
      const out = new Uint8Array(3 * 1024 * 1024).fill(m[0]);
      return { nodeId: runtimeContext().nodeId, modelBytes: m.byteLength, modelSum: checksum(m), shardBytes: s.byteLength, shardSum: checksum(s), out };
    });
    const r = await get(evaluate.options({ resources: { camera: 1 } }).remote(modelRef, shardRef));
    expect(r.nodeId).toBe(agents[0].nodeId);
    expect([r.modelBytes, r.modelSum]).toEqual([model.byteLength, sum(model)]);
    expect([r.shardBytes, r.shardSum]).toEqual([shard.byteLength, sum(shard)]);
    expect(r.out.byteLength).toBe(3 * 1024 * 1024);
    expect(r.out.every((x: number) => x === model[0])).toBe(true);
  });

  it('short outage - SIGSTOP then SIGCONT before the dead deadline loses no result and runs nothing twice', async () => {
    const a = agents[0];
    const log = join(cluster.tmp, 'short-outage.log');
    const step = remote(async (i: number, file: string) => {
      const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
      fs.appendFileSync(file, `${i}\n`);
      await new Promise((r) => setTimeout(r, 150));
      return { i, nodeId: runtimeContext().nodeId };
    });
    const refs = Array.from({ length: 8 }, (_, i) => step.options({ resources: { camera: 1 } }).remote(i, log));
    await until(() => existsSync(log) && readFileSync(log, 'utf8').trim().split('\n').length >= 2, 'tasks to start on the agent');
    signal(a, 'SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500)); // the outage itself, shorter than RAYTS_DEAD_AFTER_MS=3000
    signal(a, 'SIGCONT');
    expect(Date.now() - stoppedAt).toBeLessThan(2800);
    const results = await get(refs);
    expect(results).toEqual(Array.from({ length: 8 }, (_, i) => ({ i, nodeId: a.nodeId })));
    const ran = readFileSync(log, 'utf8').trim().split('\n').map(Number).sort((x, y) => x - y);
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const me = (await nodes()).find((n) => n.nodeId === a.nodeId)!;
    expect(me.alive).toBe(true);
  });

  it('network cut - a tunnel broken and restored before the deadline resends what was unacknowledged, once', async () => {
    link = new CuttableLink(Number(cluster.address.split(':')[1]));
    await link.listen();
    // No camera resource: later camera tests must not land on it once it is gone.
    const a = await startAgent('cam-net', `127.0.0.1:${link.port}`, '{}');
    await until(async () => (await nodes()).some((n) => n.nodeId === a.nodeId && n.alive), 'the agent behind the link');
    const log = join(cluster.tmp, 'network-cut.log');
    const step = remote(async (i: number, file: string) => {
      const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
      fs.appendFileSync(file, `${i}\n`);
      await new Promise((r) => setTimeout(r, 200));
      return { i, nodeId: runtimeContext().nodeId };
    });
    const refs = Array.from({ length: 8 }, (_, i) => step.options({ labelSelector: { device: 'cam-net' } }).remote(i, log));
    await until(() => existsSync(log) && readFileSync(log, 'utf8').trim().split('\n').length >= 2, 'tasks to start behind the link');
    link.cut();
    await new Promise((r) => setTimeout(r, 800)); // the outage: results finished meanwhile wait on the agent
    link.restore();
    const results = await get(refs);
    expect(results).toEqual(Array.from({ length: 8 }, (_, i) => ({ i, nodeId: a.nodeId })));
    expect(readFileSync(log, 'utf8').trim().split('\n').map(Number).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((await nodes()).find((n) => n.nodeId === a.nodeId)!.alive).toBe(true);
    // The tunnel really broke and was resumed (not merely stalled).
    const logFile = join(cluster.tmp, `edge_${a.edgeId}`, 'logs', `edge-${a.proc.pid}.log`);
    await until(() => existsSync(logFile) && /"resumedStreams":[1-9]\d*[^\n]*edge tunnel connected/.test(readFileSync(logFile, 'utf8')), 'the tunnel to reconnect with its streams (agent log)');
    a.proc.kill('SIGTERM');
    await until(() => a.proc.exitCode !== null || a.proc.signalCode !== null, 'the agent to exit on SIGTERM');
  });

  it('long outage - the stopped agent is declared dead, its task is retried on the other camera, and it re-joins under a new id', async () => {
    const second = await startAgent('cam-02');
    await until(async () => (await nodes()).some((n) => n.nodeId === second.nodeId && n.alive), 'the second camera');
    const marks = join(cluster.tmp, 'long-outage.log');
    const slow = remote(async (file: string) => {
      const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
      fs.appendFileSync(file, `${runtimeContext().nodeId}\n`);
      await new Promise((r) => setTimeout(r, 1500));
      return runtimeContext().nodeId;
    });
    const ref = slow.options({ resources: { camera: 1 }, maxRetries: 3 }).remote(marks);
    await until(() => existsSync(marks), 'the task to start on a camera');
    const firstNode = readFileSync(marks, 'utf8').trim().split('\n')[0];
    const victim = agents.find((x) => x.nodeId === firstNode)!;
    const other = agents.find((x) => x !== victim && x.device !== 'cam-net')!;
    signal(victim, 'SIGSTOP');
    await until(async () => (await nodes()).find((n) => n.nodeId === victim.nodeId)?.alive === false, 'the head to declare the stopped agent dead', 15_000);
    expect(await get(ref, { timeoutMs: 15_000 })).toBe(other.nodeId);
    signal(victim, 'SIGCONT');
    await until(
      async () => (await nodes()).some((n) => n.alive && n.kind === 'edge' && n.labels.device === victim.device && n.nodeId !== victim.nodeId),
      'the agent to re-join under a new node id',
      20_000,
    );
    const rejoined = (await nodes()).find((n) => n.alive && n.labels.device === victim.device)!;
    expect(await get(whereAmI.options({ labelSelector: { device: victim.device } }).remote())).toBe(rejoined.nodeId);
  });
});
