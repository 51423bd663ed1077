/**
 * Logging. pino loggers are created at process entry points only (`createRootLogger`); components take a
 * child logger. `RAYTS_LOG_LEVEL` sets the level (default "info"); `RAYTS_TRACE=module1,module2` turns on
 * debug for those modules only.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * A root logger, to a file when `dest` is a path. File logging is synchronous: a daemon that exits right
 * after starting (bad token, port in use) must not leave pino flushing into a file that is not open yet,
 * which throws from the exit handler and keeps the process alive.
 */
export function createRootLogger(name: string, dest?: DestinationStream | string): Logger {
  const level = process.env.RAYTS_LOG_LEVEL ?? 'info';
  const stream = typeof dest === 'string' ? pino.destination({ dest, sync: true, mkdir: true }) : dest;
  return stream ? pino({ name, level }, stream) : pino({ name, level });
}

/** A silent logger, for embedded use when no session directory is wanted and for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A child logger for a module; debug level when the module is listed in RAYTS_TRACE. */
export function moduleLogger(parent: Logger, module: string): Logger {
  const traced = (process.env.RAYTS_TRACE ?? '').split(',').includes(module);
  const child = parent.child({ module });
  if (traced) child.level = 'debug';
  return child;
}
