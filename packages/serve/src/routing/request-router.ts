/**
 * Replica choice: one pluggable function. `chooseReplicas(candidates, req)` returns ranked tiers of
 * replicas; the caller takes the first replica of the first tier that has room. The default is power
 * of two choices (Ray Serve's PowerOfTwoChoicesRequestRouter): two random replicas, the less loaded first.
 */

/** What the router knows of a replica (the caller's own view of its load). */
export interface ReplicaCandidate {
  readonly replicaId: string;
  /** Requests this caller has running on it. */
  readonly ongoing: number;
  readonly maxOngoingRequests: number;
}

/** The request being routed (for policies that look at it: session affinity, locality…). */
export interface PendingRequest {
  readonly requestId: string;
  readonly method: string;
}

/** A routing policy: ranked tiers of candidates. */
export type ChooseReplicas = <R extends ReplicaCandidate>(candidates: readonly R[], req: PendingRequest, random?: () => number) => R[][];

/**
 * Two distinct random candidates (both when there are two), the less loaded first (the first drawn on
 * a tie). Needs at least two candidates.
 */
function twoChoices<R extends ReplicaCandidate>(candidates: readonly R[], random: () => number): [R, R] {
  const n = candidates.length;
  let a: R;
  let b: R;
  if (n === 2) {
    [a, b] = candidates;
  } else {
    const i = Math.floor(random() * n);
    let j = Math.floor(random() * (n - 1));
    if (j >= i) j++;
    a = candidates[i];
    b = candidates[j];
  }
  return a.ongoing <= b.ongoing ? [a, b] : [b, a];
}

/** Power of two choices; with ≤ 2 candidates both are ranked by load. */
export const powerOfTwoChoices: ChooseReplicas = (candidates, _req, random = Math.random) => {
  const n = candidates.length;
  if (n === 0) return [];
  if (n === 1) return [[candidates[0]]];
  // Fallback tier: every replica by load, so a request is placed while any replica has room.
  const rest = [...candidates].sort((x, y) => x.ongoing - y.ongoing);
  return [twoChoices(candidates, random), rest];
};

let current: ChooseReplicas = powerOfTwoChoices;

/** Replaces the routing policy in this process (proxy and handles). Returns the previous one. */
export function setChooseReplicas(fn: ChooseReplicas): ChooseReplicas {
  const prev = current;
  current = fn;
  return prev;
}

/** The routing policy in force in this process. */
export function chooseReplicas<R extends ReplicaCandidate>(candidates: readonly R[], req: PendingRequest): R[][] {
  return current(candidates, req);
}

/**
 * What pickReplica gives under powerOfTwoChoices, without building its tiers (two arrays per request,
 * and a copy sorted by load once there are three replicas or more): the less loaded of the two random
 * picks when it has room, else the other, else the least loaded replica with room (ties in table order,
 * as the stable sort ranks them). Same random draws, same answer.
 */
function pickPowerOfTwo<R extends ReplicaCandidate>(candidates: readonly R[]): R | undefined {
  const n = candidates.length;
  if (n === 0) return undefined;
  if (n === 1) return candidates[0].ongoing < candidates[0].maxOngoingRequests ? candidates[0] : undefined;
  const [a, b] = twoChoices(candidates, Math.random);
  if (a.ongoing < a.maxOngoingRequests) return a;
  if (b.ongoing < b.maxOngoingRequests) return b;
  let best: R | undefined;
  for (const r of candidates) if (r.ongoing < r.maxOngoingRequests && (!best || r.ongoing < best.ongoing)) best = r;
  return best;
}

/** First candidate, tier by tier, with room under its maxOngoingRequests. */
export function pickReplica<R extends ReplicaCandidate>(candidates: readonly R[], req: PendingRequest): R | undefined {
  if (current === powerOfTwoChoices) return pickPowerOfTwo(candidates);
  for (const tier of chooseReplicas(candidates, req)) {
    for (const r of tier) if (r.ongoing < r.maxOngoingRequests) return r;
  }
  return undefined;
}
