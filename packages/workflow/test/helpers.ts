/** Helpers of the workflow tests: temp workflow dirs, the CLI as a child process, a webhook server. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const WF_CLI = join(ROOT, 'packages/workflow/dist/cli.js');
export const RAYTS_CLI = join(ROOT, 'packages/core/dist/cli/main.js');
export const EXAMPLE_DIR = join(ROOT, 'examples/workflow');

/** A fresh directory for workflow files, and a fresh RAYTS_WORKFLOW_HOME; removed after the file's tests. */
export function tempWorkspace(): { dir: string; home: string; write(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'rayts-wf-test-'));
  const home = join(dir, 'home');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    home,
    write(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `rayts-workflow ARGS` and collects the output; with `viaRayts`, as `rayts workflow ARGS` (the
 * core's CLI running the bin git-style).
 */
export function workflowCli(args: string[], env: Record<string, string>, timeoutMs = 120_000, viaRayts = false): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, viaRayts ? [RAYTS_CLI, 'workflow', ...args] : [WF_CLI, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

/** Starts `rayts-workflow ARGS` and resolves lines as they come (`waitFor(regex)`). */
export function startCli(args: string[], env: Record<string, string>): { child: ChildProcess; output(): string; waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>; exited: Promise<number> } {
  const child = spawn(process.execPath, [WF_CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { re: RegExp; res: (m: RegExpExecArray) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = w.re.exec(text);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.res(m);
      }
    }
  };
  child.stdout!.on('data', (c: Buffer) => {
    text += c.toString();
    check();
  });
  child.stderr!.on('data', (c: Buffer) => {
    text += c.toString();
    check();
  });
  const exited = new Promise<number>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))));
  return {
    child,
    output: () => text,
    exited,
    waitFor(re, timeoutMs = 60_000) {
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`timed out waiting for ${re} in:\n${text}`)), timeoutMs);
        waiters.push({ re, res: (m) => (clearTimeout(t), res(m)) });
        check();
      });
    },
  };
}

/** A local webhook receiver: collects JSON bodies; `next()` resolves with the next one. */
export async function webhookServer(): Promise<{ url: string; bodies: unknown[]; next(): Promise<unknown>; close(): Promise<void> }> {
  const bodies: unknown[] = [];
  const waiting: ((b: unknown) => void)[] = [];
  let taken = 0;
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(data || 'null');
      bodies.push(body);
      res.writeHead(204).end();
      const w = waiting.shift();
      if (w) {
        taken++;
        w(body);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    next: () => (taken < bodies.length ? Promise.resolve(bodies[taken++]) : new Promise((r) => waiting.push(r))),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** True while `pid` runs (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Resolves when `check` is true; polls (for files and processes, which have no event to wait on). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
