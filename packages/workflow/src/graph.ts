/**
 * The op graph: topological order, cycles (named), layers, and the text, Mermaid and SVG drawings
 * `rayts workflow graph` writes. Edges run from an op to the ops that depend on it.
 */

/** An op as the graph sees it: its name, type and what it depends on (references plus `upstream`). */
export interface GraphNode {
  readonly name: string;
  readonly type: string;
  readonly dependsOn: readonly string[];
  /** The subset of `dependsOn` that comes only from `upstream` (drawn dashed). */
  readonly upstreamOnly?: readonly string[];
  readonly always?: boolean;
}

/** A topological order, or the first cycle found as the ops in it (first op repeated at the end). */
export function topologicalOrder(nodes: readonly GraphNode[]): { order: string[] } | { cycle: string[] } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const s = state.get(name);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const d of byName.get(name)?.dependsOn ?? []) {
      if (!byName.has(d)) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    order.push(name);
    return undefined;
  };
  for (const n of nodes) {
    const c = visit(n.name);
    if (c) return { cycle: c };
  }
  return { order };
}

/** Each op's layer: 0 for ops without dependencies, else one more than its deepest dependency. */
export function layers(nodes: readonly GraphNode[], order: readonly string[]): string[][] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const depth = new Map<string, number>();
  for (const name of order) depth.set(name, Math.max(-1, ...byName.get(name)!.dependsOn.map((d) => depth.get(d) ?? -1)) + 1);
  const out: string[][] = [];
  for (const name of order) (out[depth.get(name)!] ??= []).push(name);
  return out;
}

/** The DAG as text: one line per op in layer order with what it waits for. */
export function graphText(workflow: string, nodes: readonly GraphNode[], order: readonly string[]): string {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const lines = [`workflow ${workflow}: ${nodes.length} ops`];
  layers(nodes, order).forEach((layer, i) => {
    lines.push(`layer ${i}:`);
    for (const name of layer) {
      const n = byName.get(name)!;
      const deps = n.dependsOn.map((d) => (n.upstreamOnly?.includes(d) ? `${d} (upstream)` : d));
      lines.push(`  ${name} [${n.type}]${n.always ? ' always' : ''}${deps.length ? ` <- ${deps.join(', ')}` : ''}`);
    }
  });
  return lines.join('\n') + '\n';
}

/** Mermaid flowchart source (`.mmd`): data dependencies as solid arrows, `upstream` ordering dashed. */
export function graphMermaid(nodes: readonly GraphNode[]): string {
  const lines = ['flowchart TD'];
  for (const n of nodes) lines.push(`  ${n.name}["${n.name}<br/><small>${n.type}${n.always ? ' · always' : ''}</small>"]`);
  for (const n of nodes) {
    for (const d of n.dependsOn) lines.push(`  ${d} ${n.upstreamOnly?.includes(d) ? '-.->' : '-->'} ${n.name}`);
  }
  return lines.join('\n') + '\n';
}

const BOX_W = 170;
const BOX_H = 44;
const GAP_X = 40;
const GAP_Y = 60;

/** A small layered SVG drawing: one row per layer, boxes centred, edges as straight arrows. */
export function graphSvg(workflow: string, nodes: readonly GraphNode[], order: readonly string[]): string {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const rows = layers(nodes, order);
  const widest = Math.max(1, ...rows.map((r) => r.length));
  const width = widest * (BOX_W + GAP_X) + GAP_X;
  const height = rows.length * (BOX_H + GAP_Y) + GAP_Y;
  const pos = new Map<string, { x: number; y: number }>();
  rows.forEach((row, r) => {
    const rowWidth = row.length * (BOX_W + GAP_X) - GAP_X;
    const x0 = (width - rowWidth) / 2;
    row.forEach((name, i) => pos.set(name, { x: x0 + i * (BOX_W + GAP_X), y: GAP_Y + r * (BOX_H + GAP_Y) }));
  });
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${esc(workflow)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
  ];
  for (const n of nodes) {
    const to = pos.get(n.name)!;
    for (const d of n.dependsOn) {
      const from = pos.get(d)!;
      const dashed = n.upstreamOnly?.includes(d) ? ' stroke-dasharray="5,4"' : '';
      parts.push(`<line x1="${from.x + BOX_W / 2}" y1="${from.y + BOX_H}" x2="${to.x + BOX_W / 2}" y2="${to.y}" stroke="#555"${dashed} marker-end="url(#arrow)"/>`);
    }
  }
  for (const name of order) {
    const n = byName.get(name)!;
    const p = pos.get(name)!;
    parts.push(
      `<g><rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="${n.always ? '#fff4e0' : '#eef4ff'}" stroke="#345"/>` +
        `<text x="${p.x + BOX_W / 2}" y="${p.y + 18}" text-anchor="middle" font-size="13">${esc(name)}</text>` +
        `<text x="${p.x + BOX_W / 2}" y="${p.y + 34}" text-anchor="middle" font-size="10" fill="#555">${esc(n.type)}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
