/**
 * @samsara/ray-workflow — declarative YAML pipelines on rayts clusters (the source platform's Owlster).
 *
 * A workflow file names ops; arguments that reference other ops' outputs (`{dates.end_date}`) make the
 * dependencies, `upstream:` orders ops without data, `{context.run_id}` and friends are filled in at
 * run time. Built-in ops start and stop clusters, submit jobs, run remote tasks, shell commands and
 * HTTP requests; custom ops are registered by name. Every run is journaled with the file's hash and
 * git commit. See docs/workflow.md.
 *
 * @example
 * import { registerOp, loadWorkflow, runWorkflow } from '@samsara/ray-workflow';
 * registerOp('run_dates', async ({ days }) => ({ start_date: '2024-01-01', end_date: '2024-01-08' }));
 * const wf = await loadWorkflow('pipeline.yaml');
 * const run = await runWorkflow(wf);           // rejects with WorkflowRunError unless it succeeded
 * console.log(run.status, run.ops.dates.output);
 */
export { registerOp, getOp, opNames, type OpContext, type OpFunction, type OpSchema, type RegisterOpOptions, type OpDefinition, type JsonSchema } from './ops/registry.js';
export { loadWorkflow, type LoadWorkflowOptions } from './spec/load.js';
export type { WorkflowDefinition, OpSpec, ScheduleSpec, AlertTarget } from './spec/definition.js';
export { WORKFLOW_SCHEMA } from './spec/schema.js';
export { findReferences, interpolate, type Reference } from './spec/references.js';
export { splitWords } from './ops/split-words.js';
export { runWorkflow, type RunOptions } from './run/runner.js';
export { cancelRun, type CancelOptions } from './run/cancel.js';
export { RunStore } from './run/store.js';
export { compileRetryPolicy, retryDelayMs, type RetryPolicy } from './run/retry-policy.js';
export type { RunStatus, OpStatus, RunRecord, OpRecord, RunEvent, GitLineage, ErrorInfo, RunResource } from './run/status.js';
export { dashboardSection, dashboardKey, DASHBOARD_NAMESPACE, type DashboardSection } from './run/dashboard.js';
export type { AlertPayload } from './alerts.js';
export { WorkflowScheduler, type SchedulerOptions } from './schedule/scheduler.js';
export { topologicalOrder, layers, graphText, graphMermaid, graphSvg, type GraphNode } from './graph.js';
export { workflowHome } from './config.js';
export { WorkflowDefinitionError, OpExecutionError, WorkflowRunError, WorkflowNotFoundError, type DefinitionIssue, type WorkflowErrorCode } from './errors.js';
