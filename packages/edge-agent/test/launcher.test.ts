/**
 * The `rayts-edge` launcher (src/cli.ts): the bin starts node in the lean idle shape docs/edge-agent.md
 * ("Memory") describes, with flags this Node accepts, and never with flags that keep the optimizing
 * compiler the int8 runtime needs off: TurboFan is off only until the agent starts its first worker
 * thread (src/optimizer.ts), which is where tasks and actors — inference — run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const OPTIMIZER = pathToFileURL(fileURLToPath(new URL('../dist/optimizer.js', import.meta.url))).href;

function shebangFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0];
  const m = first.match(/^#!\/usr\/bin\/env -S node (.*)$/);
  if (!m) throw new Error(`unexpected shebang: ${first}`);
  return m[1].split(/\s+/).filter(Boolean);
}

describe('rayts-edge launcher', () => {
  it('launcher - the shebang starts node with a small young generation, one platform thread and TurboFan off until the first thread, never --lite-mode/--jitless', () => {
    const flags = shebangFlags();
    expect(flags).toEqual(['--max-semi-space-size=1', '--v8-pool-size=1', '--no-turbofan', '--no-maglev', '--optimize-for-size']);
    expect(flags.some((f) => /lite-mode|jitless|no-opt|max-opt/.test(f))).toBe(false);
  });

  it('launcher - under the launcher flags, a worker thread started by the agent gets its hot code optimized by TurboFan again', () => {
    // The hot loop runs in a worker thread, as a task or actor does; --trace-opt prints what TurboFan compiled.
    const script = (arm: boolean) => `
      import { Worker } from 'node:worker_threads';
      import { optimizeFromFirstThread } from ${JSON.stringify(OPTIMIZER)};
      ${arm ? 'optimizeFromFirstThread();' : ''}
      const w = new Worker(\`
        function hotInt8Loop(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 3; return s; }
        const a = new Int8Array(4096).fill(1);
        let s = 0;
        for (let k = 0; k < 2000; k++) s += hotInt8Loop(a);
        import('node:worker_threads').then((m) => m.parentPort.postMessage(s));
      \`, { eval: true });
      w.once('message', () => w.terminate());
    `;
    const run = (arm: boolean) => spawnSync(process.execPath, [...shebangFlags(), '--trace-opt', '--input-type=module', '-e', script(arm)], { encoding: 'utf8' });
    const optimized = (out: string) => out.split('\n').some((l) => /completed (optimizing|compiling).*hotInt8Loop.*TURBOFAN/.test(l));
    const armed = run(true);
    expect(armed.status, armed.stderr).toBe(0);
    expect(optimized(armed.stdout)).toBe(true);
    // Control: without the launcher's arming the flags keep it off (so the check above can fail).
    const off = run(false);
    expect(off.status, off.stderr).toBe(0);
    expect(optimized(off.stdout)).toBe(false);
  });

  it('launcher - node accepts the flags and the agent runs under them', () => {
    const probe = 'process.stdout.write(JSON.stringify(process.execArgv))';
    const flagged = spawnSync(process.execPath, [...shebangFlags(), '-e', probe], { encoding: 'utf8' });
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(JSON.parse(flagged.stdout).slice(0, shebangFlags().length)).toEqual(shebangFlags());
    const env = { ...process.env };
    delete env.MSGPACKR_NATIVE_ACCELERATION_DISABLED;
    delete env.RAYTS_EDGE_LEAN;
    const help = spawnSync(process.execPath, [...shebangFlags(), CLI, '--help'], { encoding: 'utf8', env });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: rayts-edge --address HOST:PORT');
    const bad = spawnSync(process.execPath, [...shebangFlags(), CLI, '--address', 'nope'], { encoding: 'utf8', env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--address must be HOST:PORT');
  });

  it('launcher - started as `node cli.js` without the flags, it re-executes itself in place with them where Node has process.execve', async () => {
    // A port nobody listens on: the agent keeps waiting for its head, which is all this needs.
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'rayts-launcher-'));
    const env = { ...process.env, RAYTS_TMPDIR: dir };
    delete env.RAYTS_EDGE_LEAN;
    delete env.RAYTS_EDGE_REEXEC;
    delete env.NODE_OPTIONS;
    const proc = spawn(process.execPath, [CLI, '--address', `127.0.0.1:${port}`, '--token', 'launcher-test'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((res, rej) => {
        let out = '';
        proc.stdout.on('data', (d) => {
          out += d;
          if (out.includes('joining the cluster')) res();
        });
        proc.once('exit', (code) => rej(new Error(`rayts-edge exited (${code}) before joining: ${out}`)));
      });
      // Same pid after the re-exec: its command line is what the kernel runs now.
      const argv = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const canReexec = typeof (process as unknown as { execve?: unknown }).execve === 'function';
      for (const f of shebangFlags()) expect(argv.includes(f), `${f} in ${argv.join(' ')}`).toBe(canReexec);
    } finally {
      proc.kill('SIGKILL');
      if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
