/**
 * Runs the core's `rayts` CLI as a child process (cluster start/stop, job submit/stop). The CLI is the
 * public, documented surface of `@samsara/ray` for these (DESIGN.md "CLI"); its script is found through
 * the package's `bin.rayts`, so no PATH lookup is involved.
 */
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cliPath: string | undefined;

/** Absolute path of the `rayts` CLI script of the installed `@samsara/ray`. */
export function raytsCli(): string {
  if (cliPath) return cliPath;
  let dir = dirname(createRequire(import.meta.url).resolve('@samsara/ray'));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      const pkg = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; bin?: Record<string, string> };
      if (pkg.name === '@samsara/ray' && pkg.bin?.rayts) return (cliPath = join(dir, pkg.bin.rayts));
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the rayts CLI of @samsara/ray (package.json bin.rayts)');
    dir = up;
  }
}

export interface CliRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with each line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting sends SIGTERM to the child. */
  signal?: AbortSignal;
  cwd?: string;
  /** Called with the child's pid once it runs. */
  onSpawn?: (pid: number) => void;
}

/** Runs a command to completion, collecting its output; never rejects for a non-zero exit. */
export function runCommand(cmd: string, args: readonly string[], o: CliOptions & { shell?: boolean; detached?: boolean } = {}): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], shell: o.shell ?? false, detached: o.detached ?? false });
    const out: string[] = [];
    const err: string[] = [];
    const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      (stream === 'stdout' ? out : err).push(chunk.toString('utf8'));
      if (!o.onLine) return;
      const text = pending[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      pending[stream] = lines.pop() ?? '';
      for (const l of lines) o.onLine(l, stream);
    };
    child.stdout.on('data', (c: Buffer) => feed('stdout', c));
    child.stderr.on('data', (c: Buffer) => feed('stderr', c));
    const kill = () => {
      try {
        if (o.detached && child.pid) process.kill(-child.pid, 'SIGTERM');
        else child.kill('SIGTERM');
      } catch {
        /* gone */
      }
    };
    if (o.signal?.aborted) kill();
    o.signal?.addEventListener('abort', kill, { once: true });
    child.once('spawn', () => child.pid && o.onSpawn?.(child.pid));
    child.once('error', (e) => {
      o.signal?.removeEventListener('abort', kill);
      reject(e);
    });
    child.once('close', (code, signal) => {
      o.signal?.removeEventListener('abort', kill);
      for (const s of ['stdout', 'stderr'] as const) if (pending[s] && o.onLine) o.onLine(pending[s], s);
      resolveRun({ code: code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1), signal, stdout: out.join(''), stderr: err.join('') });
    });
  });
}

function signalNumber(s: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s];
}

/**
 * Runs `rayts ARGS...` with this Node, in its own process group: a Ctrl-C at the terminal reaches the
 * workflow runner only, which then stops these children itself in order (a `job submit` hit by the
 * terminal's SIGINT would stop following and leave its job running).
 */
export function rayts(args: readonly string[], o: CliOptions = {}): Promise<CliRun> {
  return runCommand(process.execPath, [raytsCli(), ...args], { ...o, detached: true });
}
