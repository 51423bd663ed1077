/**
 * Logging. pino loggers are created at process entry points only (`createRootLogger`); components take a
 * child logger. `RAYTS_LOG_LEVEL` sets the level (default "info"); `RAYTS_TRACE=module1,module2` turns on
 * debug for those modules only.
 *
 * pino is loaded when the first logger is made, not when this module is imported: worker threads (one
 * per actor) import the common package but make no logger, and should not pay for one.
 */
import { createRequire } from 'node:module';
import type { Logger, DestinationStream, pino as PinoFn } from 'pino';

let pinoFn: typeof PinoFn | undefined;
function pino(): typeof PinoFn {
  // pino is CommonJS: require() gives the same instance an `import` would.
  pinoFn ??= (createRequire(import.meta.url)('pino') as { pino: typeof PinoFn }).pino;
  return pinoFn;
}

export type { Logger };

/**
 * A root logger, to a file when `dest` is a path. File logging is synchronous: a daemon that exits right
 * after starting (bad token, port in use) must not leave pino flushing into a file that is not open yet,
 * which throws from the exit handler and keeps the process alive. A log file is created with mode 0600.
 */
export function createRootLogger(name: string, dest?: DestinationStream | string): Logger {
  const level = process.env.RAYTS_LOG_LEVEL ?? 'info';
  const p = pino();
  // Logs hold addresses, ids and user error messages: readable by the owner only (0600), like the token.
  const stream = typeof dest === 'string' ? p.destination({ dest, sync: true, mkdir: true, mode: 0o600 } as never) : dest;
  return stream ? p({ name, level }, stream) : p({ name, level });
}

/** A silent logger, for embedded use when no session directory is wanted and for tests. */
export function silentLogger(): Logger {
  return pino()({ level: 'silent' });
}

/** A child logger for a module; debug level when the module is listed in RAYTS_TRACE. */
export function moduleLogger(parent: Logger, module: string): Logger {
  const traced = (process.env.RAYTS_TRACE ?? '').split(',').includes(module);
  const child = parent.child({ module });
  if (traced) child.level = 'debug';
  return child;
}
