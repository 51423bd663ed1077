/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: every sample
 * line must parse, belong to a family declared by `# TYPE`, and carry a numeric value.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
  /** Sum of the samples of `name` whose labels include `match`. */
  value(name: string, match?: Record<string, string>): number;
  has(name: string, match?: Record<string, string>): boolean;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parsePrometheusText(text: string): Scrape {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('# HELP ')) {
      const [, name, ...rest] = line.split(' ').slice(1);
      help.set(line.split(' ')[2], rest.join(' ') || name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`line ${i + 1}: bad type ${type}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      LABEL.lastIndex = 0;
      const body = m[3];
      while (LABEL.lastIndex < body.length) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(body);
        if (!l || l.index !== at) throw new Error(`line ${i + 1}: bad labels ${body}`);
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') throw new Error(`line ${i + 1}: bad value ${m[4]} in: ${line}`);
    if (!familyOf(m[1], types)) throw new Error(`line ${i + 1}: ${m[1]} has no # TYPE`);
    samples.push({ name: m[1], labels, value });
  }
  const matching = (name: string, match: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return {
    types,
    help,
    samples,
    value: (name, match) => matching(name, match).reduce((a, s) => a + s.value, 0),
    has: (name, match) => matching(name, match).length > 0,
  };
}
