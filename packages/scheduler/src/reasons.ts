/**
 * The small vocabulary of user-facing reasons: `{CPU: 1}` amounts (zeros kept where they matter),
 * `{zone: b}` labels and short node ids. Reasons end up in `rayts status` and in GetTimeoutError
 * messages, so they name the resource, the amount and the node, and nothing else.
 */
import { formatResources, shortId, type ResourceMap } from '@samsara/ray-common';
import type { LabelSelector } from './types.js';

/** `{CPU: 1, camera: 1}`; an empty demand prints as `{}`. */
export function formatDemand(demand: Readonly<ResourceMap>): string {
  return formatResources(demand as ResourceMap);
}

/** `{CPU: 0, GPU: 2}`: the amounts of `keys` in `r`, zeros included. */
export function formatAmounts(r: Readonly<ResourceMap>, keys: readonly string[]): string {
  return `{${keys.map((k) => `${k}: ${formatNumber(r[k] ?? 0)}`).join(', ')}}`;
}

/** A resource amount as people write it: 0.1, not 0.1000000001. */
export function formatNumber(x: number): string {
  return String(+x.toFixed(4));
}

/** `{zone: b, soc: in(a,b)}`. */
export function formatLabels(selector: LabelSelector): string {
  return `{${Object.keys(selector)
    .map((k) => `${k}: ${selector[k]}`)
    .join(', ')}}`;
}

/** `node 1a2b3c4d…`. */
export function nodeName(nodeId: string): string {
  return `node ${shortId(nodeId)}`;
}

/** "1 node", "3 nodes". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
