/**
 * @samsara/ray-edge — the edge agent for dash cams: the `rayts-edge` daemon (a rayts node that only
 * dials out and survives network loss) and an on-device int8 inference runtime.
 *
 * @example
 * import { runEdgeAgent, parseAgentArgs, quantize, runInt8 } from '@samsara/ray-edge';
 * const node = await runEdgeAgent(parseAgentArgs(['--address', '10.0.0.5:6380', '--resources', '{"camera":1}']));
 */
export { parseAgentArgs, runEdgeAgent, USAGE, type EdgeAgentConfig } from './agent.js';
export { startEdgeNode, type EdgeNode, type EdgeNodeOptions } from '@samsara/ray';
export * from './inference/index.js';
