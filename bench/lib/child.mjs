/**
 * Starting and stopping the child processes a bench owns. Every child is tracked by pid and ended by
 * that pid only (SIGTERM, then SIGKILL after a grace period).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';

/**
 * Forks `modulePath` with an IPC channel and resolves with `{ child, message }` once the child's first
 * IPC message arrives. Rejects if the child exits first, sends `{ error }`, or `timeoutMs` passes.
 */
export async function forkReady(modulePath, { args = [], env = process.env, timeoutMs = 30_000 } = {}) {
  const child = fork(modulePath, args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let timer;
  try {
    const message = await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${modulePath} sent nothing within ${timeoutMs} ms`)), timeoutMs);
      child.once('message', (m) => (m && m.error ? reject(new Error(m.error)) : resolve(m)));
      child.once('exit', (code, signal) => reject(new Error(`${modulePath} exited (${signal ?? code}) before it was ready`)));
      child.once('error', reject);
    });
    return { child, message };
  } catch (err) {
    await stopChild(child);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Ends one child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export async function stopChild(child, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
