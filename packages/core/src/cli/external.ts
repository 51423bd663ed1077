/**
 * Git-style subcommands: `rayts X args…` runs the bin `rayts-X` when X is not a core subcommand, so
 * library CLIs (`rayts serve status`, `rayts workflow run`, `rayts tune show`) read as one tool.
 * The bin is looked up in the package `@samsara/ray-X` (resolved from the working directory, then
 * from this package), then on PATH. Exit code and stdio are the subcommand's own.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter, dirname, join } from 'node:path';

function binFromPackage(name: string): string | undefined {
  // Walks up node_modules like Node's resolver (package.json is not in every package's exports map).
  const starts = [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkgJson = join(dir, 'node_modules', '@samsara', `ray-${name}`, 'package.json');
      if (existsSync(pkgJson)) {
        try {
          const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin?: Record<string, string> | string };
          const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.[`rayts-${name}`];
          if (rel) return join(dirname(pkgJson), rel);
        } catch {
          /* unreadable package.json: try further up */
        }
      }
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

function binOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, `rayts-${name}`);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Runs `rayts-<name>`; undefined when no such command is installed. */
export async function runExternal(name: string, args: string[]): Promise<number | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  const script = binFromPackage(name);
  const bin = script ?? binOnPath(name);
  if (!bin) return undefined;
  const [cmd, argv] = script ? [process.execPath, [...process.execArgv, script, ...args]] : [bin, args];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('error', (e) => {
      process.stderr.write(`rayts: cannot run rayts-${name}: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 1 : 1)));
  });
}
