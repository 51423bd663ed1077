/**
 * Hosts that are really apart, for multi-host tests: one Linux network namespace per host, each joined
 * by a veth pair to a bridge in the test's own namespace, with addresses in a private test subnet
 * (10.231.N.0/24, N random per run). The test process is itself a host on the bridge (10.231.N.254).
 * Everything is made here and removed by `destroy()` (processes left in a namespace are killed first).
 * Needs root and iproute2; `netnsUnavailableReason()` says why not when it cannot work.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NetHost {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** The host's end of its link in the test namespace (set down to cut the host off). */
  readonly outerIf: string;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'creating network namespaces needs root (run as root or in CI)';
  const probe = `rtprobe${randomBytes(3).toString('hex')}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error) return `iproute2 is not installed (${r.error.message})`;
  if (r.status !== 0) return `ip netns add failed: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

export class NetHosts {
  readonly hosts = new Map<string, NetHost>();
  readonly bridge: string;
  readonly subnet: string;
  readonly selfIp: string;
  private readonly tag: string;

  constructor() {
    this.tag = randomBytes(2).toString('hex');
    this.bridge = `rtbr${this.tag}`;
    const n = 1 + (parseInt(this.tag, 16) % 250);
    this.subnet = `10.231.${n}`;
    this.selfIp = `${this.subnet}.254`;
    ip(['link', 'add', this.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${this.selfIp}/24`, 'dev', this.bridge]);
    ip(['link', 'set', this.bridge, 'up']);
  }

  /** Adds host `name` (a short word) with address .`index` of the subnet. */
  add(name: string, index: number): NetHost {
    const ns = `rt-${this.tag}-${name}`;
    const outerIf = `rt${this.tag}${name.slice(0, 4)}o`;
    const innerIf = `rt${this.tag}${name.slice(0, 4)}i`;
    const hostIp = `${this.subnet}.${index}`;
    ip(['netns', 'add', ns]);
    ip(['link', 'add', outerIf, 'type', 'veth', 'peer', 'name', innerIf]);
    ip(['link', 'set', innerIf, 'netns', ns]);
    ip(['link', 'set', outerIf, 'master', this.bridge]);
    ip(['link', 'set', outerIf, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'addr', 'add', `${hostIp}/24`, 'dev', innerIf]);
    ip(['-n', ns, 'link', 'set', innerIf, 'up']);
    const h: NetHost = { name, ns, ip: hostIp, outerIf };
    this.hosts.set(name, h);
    return h;
  }

  /** argv that runs `argv` inside host `name`'s namespace. */
  exec(name: string, argv: string[]): [string, string[]] {
    const h = this.hosts.get(name)!;
    return ['ip', ['netns', 'exec', h.ns, ...argv]];
  }

  /** Takes host `name`'s link down (an outage) or up again. */
  link(name: string, up: boolean): void {
    ip(['link', 'set', this.hosts.get(name)!.outerIf, up ? 'up' : 'down']);
  }

  /** Pids of the processes living in host `name`'s namespace. */
  pids(name: string): number[] {
    const r = spawnSync('ip', ['netns', 'pids', this.hosts.get(name)!.ns], { encoding: 'utf8' });
    return r.stdout.split(/\s+/).filter(Boolean).map(Number);
  }

  destroy(): void {
    for (const h of this.hosts.values()) {
      for (const pid of this.pids(h.name)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      spawnSync('ip', ['link', 'del', h.outerIf]);
      spawnSync('ip', ['netns', 'del', h.ns]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
    this.hosts.clear();
  }
}
