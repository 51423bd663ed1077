/**
 * The `serve` namespace: run, status, delete, shutdown, promote, rollback. Each call talks to the
 * controller actor, started on first use (detached, named SERVE_CONTROLLER in namespace `serve`, on
 * the head's node).
 */
import { get, kill, InvalidArgumentError, type ActorHandle } from '@samsara/ray';
import { resolveRunOptions, type ServeRunOptions } from './config.js';
import { buildAppSpec, type Application } from './deployment.js';
import { DeployFailedError } from './errors.js';
import { appHandle, type DeploymentHandle } from './handle.js';
import type { ApplicationStatus, ServeStatus } from './internal/controller.js';
import { findController, type Ctl } from './internal/controller-client.js';
import { RouterClient } from './internal/router-client.js';
import type { DeployRequest } from './internal/spec.js';

async function controller(create: boolean): Promise<Ctl | undefined> {
  return findController(create ? 'always' : 'if-state');
}

async function call<T>(c: Ctl, method: string, ...args: unknown[]): Promise<T> {
  return (await get(c[method].remote(...args) as never)) as T;
}

/**
 * Deploys an application (a bound deployment and everything bound into it) and waits until it runs.
 * Running an application of the same name again rolls its changed deployments over to the new
 * version with no failed request; with `canary` or `shadow` the new version runs beside the live one.
 * @returns a handle to the ingress deployment.
 * @throws DeployFailedError when a replica constructor keeps failing (the app is DEPLOY_FAILED);
 *   InvalidArgumentError on bad options; ServeError when the route prefix or port is taken.
 */
async function run<T = Record<string, (...a: never[]) => unknown>>(app: Application, options: ServeRunOptions = {}): Promise<DeploymentHandle<T>> {
  const o = resolveRunOptions(options);
  const spec = buildAppSpec(app, o.name, o.routePrefix);
  const c = (await controller(true))!;
  const req: DeployRequest = { app: spec, http: o.routePrefix === null ? null : o.http, canary: o.canary, shadow: o.shadow };
  const { track } = await call<{ track: string }>(c, 'deploy', req);
  const st = await call<ApplicationStatus>(c, 'waitApp', o.name, track, o.timeoutMs);
  if (st.status === 'DEPLOY_FAILED') throw new DeployFailedError(o.name, st.message);
  return appHandle<T>(o.name, spec.ingress);
}

/** Applications, deployments, replicas (states, nodes, versions) and per-deployment metrics. */
async function status(): Promise<ServeStatus> {
  const c = await controller(false);
  if (!c) return { proxy: null, applications: {} };
  return call<ServeStatus>(c, 'status');
}

/** Removes an application: its replicas drain, then stop. Resolves false when there was none. */
async function del(name: string): Promise<boolean> {
  if (typeof name !== 'string' || !name) throw new InvalidArgumentError(`serve.delete() takes an application name, got ${JSON.stringify(name)}.`);
  const c = await controller(false);
  if (!c) return false;
  return call<boolean>(c, 'deleteApp', name);
}

/** Makes the canary (or shadow) of an application its live version; the old one drains and stops. */
async function promote(name: string): Promise<void> {
  const c = await controller(false);
  if (!c) throw new InvalidArgumentError(`serve.promote(): Serve is not running, so there is no application ${name}.`);
  await call(c, 'promote', name);
  const st = await call<ApplicationStatus>(c, 'waitApp', name, undefined, 120_000);
  if (st.status === 'DEPLOY_FAILED') throw new DeployFailedError(name, st.message);
}

/** Removes an application's canary and shadow; all traffic goes to the live version. */
async function rollback(name: string): Promise<void> {
  const c = await controller(false);
  if (!c) throw new InvalidArgumentError(`serve.rollback(): Serve is not running, so there is no application ${name}.`);
  await call(c, 'rollback', name);
}

/** A handle to a running application's ingress. */
async function getAppHandle<T = Record<string, (...a: never[]) => unknown>>(name: string): Promise<DeploymentHandle<T>> {
  const st = await status();
  const a = st.applications[name];
  if (!a) throw new InvalidArgumentError(`serve.getAppHandle(): no application named ${name}.`, { hint: 'serve.status() lists the applications.' });
  return appHandle<T>(name, a.ingress);
}

/** Deletes every application, stops the proxy and the controller. */
async function shutdown(): Promise<void> {
  const c = await controller(false);
  RouterClient.reset();
  if (!c) return;
  await call(c, 'shutdown');
  await kill(c as unknown as ActorHandle<unknown>).catch(() => undefined);
}

/** Serve's entry points. */
export const serve = Object.freeze({ run, status, delete: del, shutdown, promote, rollback, getAppHandle });
