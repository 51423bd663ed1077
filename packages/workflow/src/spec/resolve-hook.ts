/**
 * A module resolution hook (node:module `register`), installed by load.ts before it imports the
 * modules under `imports:`: an ops module that lives outside any project with node_modules (a temp
 * directory, a shared folder) can still `import { registerOp } from '@samsara/ray-workflow'` (or
 * `'@samsara/ray'`) — when normal resolution finds no such package, the one running the workflow is
 * used. Everything else resolves as usual.
 */
let fallback: Record<string, string> = {};

export function initialize(data: { fallback: Record<string, string> }): void {
  fallback = data.fallback;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  try {
    return await next(specifier, context);
  } catch (e) {
    const url = fallback[specifier];
    if (url && (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return { url, shortCircuit: true };
    throw e;
  }
}
