/**
 * DashboardPublisher: keeps a run's dashboard section up to date in the KV of every cluster the run
 * targets (the clusters it starts and the `address` of its `ray_*` ops). The runner never calls
 * `init()` itself (one run may use several clusters), so each cluster gets one small driver child
 * (publisher-child.ts) for the run, fed JSON lines. Publishing is best effort: a cluster that is gone
 * or a child that fails only loses the dashboard view, never the run (the journal is the record).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./publisher-child.js', import.meta.url));
const CLOSE_TIMEOUT_MS = 15_000;

export class DashboardPublisher {
  private readonly children = new Map<string, ChildProcess>();
  private readonly last = new Map<string, string>();

  constructor(private readonly envFor: (address: string) => NodeJS.ProcessEnv) {}

  /** Puts `value` under `key` on the cluster at `address` (starting its publisher on first use). */
  publish(address: string, key: string, value: string): void {
    if (this.last.get(address) === value) return;
    this.last.set(address, value);
    let child = this.children.get(address);
    if (!child) {
      child = spawn(process.execPath, [CHILD], { env: { ...this.envFor(address), RAYTS_WF_PUBLISH_ADDRESS: address }, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      child.on('error', () => undefined);
      child.stdin!.on('error', () => undefined);
      this.children.set(address, child);
    }
    child.stdin!.write(JSON.stringify({ key, value }) + '\n');
  }

  addresses(): string[] {
    return [...this.children.keys()];
  }

  /** Ends the publisher of `address` (all when not given) after what it was given is written. */
  async close(address?: string): Promise<void> {
    const which = address ? [address] : [...this.children.keys()];
    await Promise.all(
      which.map(async (a) => {
        const child = this.children.get(a);
        if (!child) return;
        this.children.delete(a);
        const exited = new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) r();
          else child.once('exit', () => r());
        });
        child.stdin!.end();
        const t = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
