/**
 * Source text of the library's own actor classes (controller, proxy). They are built with
 * `new Function` from text so that no bundler or test transform rewrites them: the core ships actor
 * classes by their source, and these import this package on their threads.
 */
import { SELF_PACKAGE } from './spec.js';

/**
 * The controller actor class. Written as source text and built with `new Function`, so that no
 * bundler or test transform rewrites it (the core ships classes by their source): self-contained, it
 * imports this package on its thread and forwards every method to ControllerCore. @internal
 */
export const CONTROLLER_SOURCE = `class ServeController {
  constructor() { this.c = import(${JSON.stringify(SELF_PACKAGE)}).then((m) => m.startController()); }
  async deploy(r) { return (await this.c).deploy(r); }
  async waitApp(n, t, ms) { return (await this.c).waitApp(n, t, ms); }
  async deleteApp(n) { return (await this.c).deleteApp(n); }
  async promote(n) { return (await this.c).promote(n); }
  async rollback(n) { return (await this.c).rollback(n); }
  async status() { return (await this.c).status(); }
  async routes(k) { return (await this.c).routes(k); }
  async listen(v, ms) { return (await this.c).listen(v, ms); }
  async reportLoad(id, l) { return (await this.c).reportLoad(id, l); }
  async reportDead(k, r) { return (await this.c).reportDead(k, r); }
  async shutdown() { return (await this.c).shutdown(); }
  async ping() { return (await this.c).ping(); }
}`;

/** The proxy actor class, as source for the same reason. @internal */
export const PROXY_SOURCE = `class ServeProxy {
  async start(config) { const m = await import(${JSON.stringify(SELF_PACKAGE)}); this.p = await m.startProxy(config); return this.p.info(); }
  async stop() { if (this.p) await this.p.stop(); return true; }
}`;

/** Builds a class from its source text. @internal */
export function classFromSource(src: string): new (...a: never[]) => unknown {
  return new Function(`"use strict"; return (${src});`)() as new (...a: never[]) => unknown;
}
