/**
 * Fixed-point views of resource amounts for the policies' inner loops. The common helpers keep amounts
 * exact to 1/10,000 (`fits`, `addResources`…); these functions use the same scale so that the policies
 * never disagree with them, and add what common does not offer: utilisation and "how many times does a
 * bundle fit".
 */
import type { ResourceMap } from '@samsara/ray-common';

/** The resolution of every resource amount (1/10,000), the same as in `@samsara/ray-common`. */
export const RESOURCE_SCALE = 10_000;

/** An amount in integer units of 1/10,000. */
export function toUnits(x: number | undefined): number {
  return x === undefined ? 0 : Math.round(x * RESOURCE_SCALE);
}

/** Names of the positive entries of `demand`, in insertion order. */
export function demandedKeys(demand: Readonly<ResourceMap>): string[] {
  return Object.keys(demand).filter((k) => toUnits(demand[k]) > 0);
}

/** Drops zero and negative amounts so that `{CPU: 0}` and `{}` are the same demand. */
export function positivePart(demand: Readonly<ResourceMap>): ResourceMap {
  const out: ResourceMap = {};
  for (const k of demandedKeys(demand)) out[k] = demand[k];
  return out;
}

/** A canonical key for a demand shape: equal demands give equal keys whatever their key order. */
export function shapeKey(demand: Readonly<ResourceMap>): string {
  return demandedKeys(demand)
    .sort()
    .map((k) => `${k}=${toUnits(demand[k])}`)
    .join(',');
}

/**
 * Utilisation of a node if `demand` were added: the maximum over the demanded resources of
 * used / total. A demand of nothing is judged by the node's current CPU utilisation, and a node without
 * CPU counts as full for it, so that CPU-less nodes are chosen last.
 */
export function utilisationAfter(
  total: Readonly<ResourceMap>,
  available: Readonly<ResourceMap>,
  demand: Readonly<ResourceMap>,
): number {
  const keys = demandedKeys(demand);
  if (keys.length === 0) {
    const t = toUnits(total.CPU);
    return t <= 0 ? 1 : (t - toUnits(available.CPU)) / t;
  }
  let u = 0;
  for (const k of keys) {
    const t = toUnits(total[k]);
    if (t <= 0) return Infinity;
    u = Math.max(u, (t - toUnits(available[k]) + toUnits(demand[k])) / t);
  }
  return u;
}

/** Integer-unit form of a resource map, for tight loops. */
export type Units = Record<string, number>;

export function unitsOf(r: Readonly<ResourceMap>): Units {
  return unitsOfKeys(r, Object.keys(r));
}

/** Integer-unit form of the `keys` of a resource map (absent keys count as 0). */
export function unitsOfKeys(r: Readonly<ResourceMap>, keys: readonly string[]): Units {
  const out: Units = {};
  for (const k of keys) out[k] = toUnits(r[k]);
  return out;
}

/** How many copies of `demand` fit in `cap` (Infinity for an empty demand). */
export function copiesThatFit(demand: Readonly<Units>, cap: Readonly<Units>): number {
  let n = Infinity;
  for (const k in demand) {
    const d = demand[k];
    if (d <= 0) continue;
    n = Math.min(n, Math.floor((cap[k] ?? 0) / d));
    if (n <= 0) return 0;
  }
  return n;
}

/** cap -= times × demand, in place. */
export function takeUnits(cap: Units, demand: Readonly<Units>, times = 1): void {
  for (const k in demand) if (demand[k] > 0) cap[k] = (cap[k] ?? 0) - times * demand[k];
}

/** Back from integer units to a resource map. */
export function fromUnits(u: Readonly<Units>): ResourceMap {
  const out: ResourceMap = {};
  for (const k of Object.keys(u)) out[k] = u[k] / RESOURCE_SCALE;
  return out;
}
