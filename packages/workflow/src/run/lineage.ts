/**
 * Lineage: the git commit of the repository a workflow file lives in, and whether its work tree had
 * changes (dirty), as Owlster tagged each deployment. `null` outside a repository or without git.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GitLineage } from './status.js';

const run = promisify(execFile);

export async function gitLineage(dir: string): Promise<GitLineage | null> {
  try {
    const git = (args: string[]) => run('git', ['-C', dir, ...args], { timeout: 10_000, maxBuffer: 16 << 20 }).then((r) => r.stdout.trim());
    const [commit, root, status] = await Promise.all([git(['rev-parse', 'HEAD']), git(['rev-parse', '--show-toplevel']), git(['status', '--porcelain', '--untracked-files=no'])]);
    return { commit, root, dirty: status.length > 0 };
  } catch {
    return null;
  }
}
