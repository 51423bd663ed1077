/**
 * The `rayts-edge` launcher (src/cli.ts): the bin starts node in the lean idle shape docs/edge-agent.md
 * ("Memory") describes, with flags this Node accepts, and never with flags that turn off the optimizing
 * compiler the int8 runtime needs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function shebangFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0];
  const m = first.match(/^#!\/usr\/bin\/env -S node (.*)$/);
  if (!m) throw new Error(`unexpected shebang: ${first}`);
  return m[1].split(/\s+/).filter(Boolean);
}

describe('rayts-edge launcher', () => {
  it('launcher - the shebang starts node with a small young generation and one platform thread, never --lite-mode/--jitless', () => {
    const flags = shebangFlags();
    expect(flags).toEqual(['--max-semi-space-size=1', '--v8-pool-size=1']);
    expect(flags.some((f) => /lite-mode|jitless|no-opt/.test(f))).toBe(false);
  });

  it('launcher - node accepts the flags and the agent runs under them', () => {
    const probe = 'process.stdout.write(JSON.stringify(process.execArgv))';
    const flagged = spawnSync(process.execPath, [...shebangFlags(), '-e', probe], { encoding: 'utf8' });
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(JSON.parse(flagged.stdout).slice(0, 2)).toEqual(shebangFlags());
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
});
