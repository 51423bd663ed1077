/**
 * Deployments and applications: `deployment(Class, options)` describes a replicated class;
 * `.bind(...args)` makes an Application (a bound deployment) whose constructor arguments may hold
 * other bound deployments — on the replica they become DeploymentHandles (composition, any depth).
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError, captureCallable, type CallableRef } from '@samsara/ray';
import { resolveDeploymentOptions, type DeploymentOptions } from './config.js';
import { HANDLE_MARKER, REPLICA_PROVIDED, type AppSpec, type DeploymentConfig, type DeploymentSpec } from './internal/spec.js';

type Ctor = new (...a: never[]) => unknown;

/** A deployment: a class plus its options. */
export class Deployment<C extends Ctor = Ctor> {
  /** @internal */
  constructor(
    readonly cls: C,
    readonly name: string,
    readonly config: DeploymentConfig,
    private readonly raw: DeploymentOptions,
  ) {}

  /** Binds constructor arguments; bound deployments among them become handles on the replica. */
  bind(...args: unknown[]): Application {
    return new Application(this as Deployment, args);
  }

  /** A copy with some options changed. */
  options(opts: DeploymentOptions): Deployment<C> {
    return deployment(this.cls, { ...this.raw, ...opts });
  }
}

/** A bound deployment: what serve.run() deploys (the root is the ingress). */
export class Application {
  /** @internal */
  constructor(
    readonly deployment: Deployment,
    readonly args: readonly unknown[],
  ) {}
}

/**
 * Makes a class a Serve deployment.
 * @example
 * const Echo = deployment(class Echo { fetch(req: Request) { return { path: new URL(req.url).pathname }; } }, { numReplicas: 2 });
 * Fails with InvalidArgumentError for a non-class or bad options, SerializationError for a class that
 * closes over module-level values. The class ships to replicas by the core's rules (captureCallable):
 * self-contained or using bindings its module imports at the top; `batch` is in scope.
 */
export function deployment<C extends Ctor>(cls: C, options: DeploymentOptions = {}): Deployment<C> {
  if (typeof cls !== 'function' || !/^class[\s{]/.test(Function.prototype.toString.call(cls))) {
    throw new InvalidArgumentError(`deployment() takes a class, got ${typeof cls === 'function' ? 'a function' : JSON.stringify(cls)}.`);
  }
  const where = `deployment(${cls.name || 'anonymous'})`;
  const { name, config } = resolveDeploymentOptions(options, where);
  // Here the caller's module is on the stack: where the class's imports are looked up (serve.run
  // captures it again, once init() has set the working directory).
  captureClass(cls);
  return new Deployment(cls, name ?? (cls.name || 'Deployment'), config, options);
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : typeof x === 'bigint' ? x.toString() : x)) ?? 'undefined';
}

function captureClass(cls: Ctor): CallableRef {
  return captureCallable(cls, { what: 'deployment class', provided: REPLICA_PROVIDED, hint: 'Pass those values as arguments of .bind(...)' });
}

/** Flattens an application tree into the spec the controller deploys. */
export function buildAppSpec(app: Application, name: string, routePrefix: string | null): AppSpec {
  if (!(app instanceof Application)) {
    throw new InvalidArgumentError(`serve.run() takes a bound deployment (Deployment.bind(...)), got ${app === null ? 'null' : typeof app}.`, {
      hint: 'Call .bind() on the deployment: serve.run(MyDeployment.bind()).',
    });
  }
  const specs: DeploymentSpec[] = [];
  const seen = new Map<Application, string>();
  const used = new Map<string, number>();
  const visit = (a: Application): string => {
    const known = seen.get(a);
    if (known) return known;
    const n = used.get(a.deployment.name) ?? 0;
    used.set(a.deployment.name, n + 1);
    const depName = n === 0 ? a.deployment.name : `${a.deployment.name}_${n}`;
    seen.set(a, depName);
    const replace = (v: unknown, depth: number): unknown => {
      if (v instanceof Application) return { [HANDLE_MARKER]: { deployment: visit(v) } };
      if (v instanceof Deployment) throw new InvalidArgumentError(`Deployment ${v.name} is passed unbound to ${depName}; pass ${v.name}.bind(...) instead.`);
      if (depth > 8 || v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
      if (Array.isArray(v)) return v.map((x) => replace(x, depth + 1));
      if (Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replace(x, depth + 1)]));
      return v;
    };
    const args = a.args.map((x) => replace(x, 0));
    const code = captureClass(a.deployment.cls);
    const version =
      a.deployment.config.version ??
      createHash('sha1').update(code.source).update('\0').update(stableJson(args)).update('\0').update(stableJson(a.deployment.config)).digest('hex').slice(0, 12);
    specs.push({ name: depName, className: a.deployment.cls.name || 'Deployment', code, args, config: a.deployment.config, version });
    return depName;
  };
  const ingress = visit(app);
  return { name, routePrefix, ingress, deployments: specs };
}
