/**
 * @samsara/ray-scheduler — placement policies and the node-local queue of rayts. Pure policy and queue
 * code: no I/O, no timers; randomness is injected.
 *
 * - {@link chooseNode}: where one task or actor lands (DEFAULT hybrid, SPREAD, node affinity, label
 *   selectors), or why it waits or can never run.
 * - {@link placeBundles}: atomic placement-group reservation (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD),
 *   with {@link bundleResources} and {@link demandInGroup} for Ray-style group resources.
 * - {@link LocalTaskScheduler}: a node's queue admitting items to its resources.
 *
 * @example
 * import { chooseNode, SpreadState } from '@samsara/ray-scheduler';
 * const d = chooseNode(nodes, { demand: { CPU: 1 }, strategy: 'SPREAD' }, new SpreadState());
 * if (d.kind === 'placed') send(d.nodeId);
 * else markPending(d.reason); // "waiting for {CPU: 1}: all 3 feasible nodes are busy"
 */
export * from './types.js';
export { SPREAD_THRESHOLD, DEFAULT_MAX_BYPASS, BUNDLE_MARKER_AMOUNT, BUNDLE_MARKER_DEMAND } from './config.js';
export { chooseNode } from './policy/choose-node.js';
export { defaultPolicy } from './policy/default-policy.js';
export { spreadPolicy, SpreadState } from './policy/spread-policy.js';
export { nodeAffinityPolicy } from './policy/node-affinity-policy.js';
export { parseLabelSelector, matchesLabels } from './policy/label-selector.js';
export { placeBundles } from './policy/bundle-policy.js';
export { bundleResources, demandInGroup, splitNodeResources, nodeCapacity, type NodeBundle, type NodeResourceView } from './placement-group-resources.js';
export { LocalTaskScheduler, type LocalTaskSchedulerOptions, type ReleaseOptions, type PendingDemand, type Lease, type EnqueueOptions, type FinishOptions } from './local-task-scheduler.js';
