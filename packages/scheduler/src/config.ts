/**
 * Tunables of the placement policies and the node-local queue. They are constants rather than options
 * because every process of a cluster must make the same decisions from the same view.
 */

/**
 * DEFAULT (hybrid) policy: a preferred node keeps receiving work while its utilisation, counting the new
 * demand, stays at or below this fraction (Ray's `scheduler_spread_threshold`).
 */
export const SPREAD_THRESHOLD = 0.5;

/**
 * Node-local queue: how many later items may start ahead of an older item that does not fit yet before
 * the queue reserves the resources that older item is missing.
 */
export const DEFAULT_MAX_BYPASS = 64;

/**
 * Ray's placement-group marker resource: each committed bundle adds this much `bundle_group_…` capacity
 * to its node.
 */
export const BUNDLE_MARKER_AMOUNT = 1000;

/** What a task scheduled into a placement group without any resource demand asks of the bundle marker. */
export const BUNDLE_MARKER_DEMAND = 0.001;
