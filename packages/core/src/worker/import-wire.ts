/**
 * An ImportRef as it arrives in a task spec (proto ImportRef), checked: a node takes it from a peer,
 * so an unknown kind or a missing name is refused here instead of failing later inside a thread.
 */
import { InvalidArgumentError } from '@samsara/ray-common';
import type { rayts } from '@samsara/ray-proto';
import type { ImportRef } from '../code/module-imports.js';

const KINDS = new Set(['bare', 'workdir', 'file']);

export function importRefFromWire(r: rayts.IImportRef): ImportRef {
  const local = r.local ?? '';
  const kind = r.kind ?? '';
  if (!/^[A-Za-z_$][\w$]*$/.test(local) || !KINDS.has(kind) || !r.module || !r.exportName) {
    throw new InvalidArgumentError(`task spec: malformed import reference ${JSON.stringify({ local, kind, module: r.module, exportName: r.exportName })}.`);
  }
  return {
    local,
    exportName: r.exportName,
    kind: kind as ImportRef['kind'],
    module: r.module,
    packageName: r.packageName || undefined,
    subpath: r.subpath || undefined,
  };
}
