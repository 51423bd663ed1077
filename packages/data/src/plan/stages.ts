/**
 * Stages: the per-block transforms a map operator runs, as plain serializable data (a user function
 * travels as the core's CallableRef — its source and the imports it uses — and is rebuilt inside the
 * task). Several consecutive stages run in one task after fusion.
 */
import type { CallableRef } from '@samsara/ray';

/** A user function or class as shipped: the core's CallableRef (its source, name and the imports it uses). */
export type ShippedFn = CallableRef;

export type ReadSpec =
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'parquet'; readonly path: string; readonly columns?: readonly string[]; readonly rowStart?: number; readonly rowEnd?: number }
  | { readonly kind: 'csv'; readonly path: string; readonly columns?: readonly string[]; readonly delimiter?: string }
  | { readonly kind: 'json'; readonly path: string; readonly columns?: readonly string[] };

export type Stage =
  | { readonly kind: 'map'; readonly fn: ShippedFn }
  | { readonly kind: 'filter'; readonly fn: ShippedFn }
  | { readonly kind: 'flatMap'; readonly fn: ShippedFn }
  | {
      readonly kind: 'mapBatches';
      readonly fn: ShippedFn;
      readonly batchSize: number | null;
      readonly batchFormat: 'arrow' | 'rows';
      readonly fnArgs: readonly unknown[];
    }
  | { readonly kind: 'addColumn'; readonly column: string; readonly fn: ShippedFn }
  | { readonly kind: 'selectColumns'; readonly columns: readonly string[] }
  | { readonly kind: 'dropColumns'; readonly columns: readonly string[] }
  | { readonly kind: 'renameColumns'; readonly mapping: Readonly<Record<string, string>> }
  | { readonly kind: 'head'; readonly n: number }
  | { readonly kind: 'write'; readonly format: 'parquet' | 'csv' | 'json'; readonly dir: string; readonly prefix: string };

/** What one map task does: optionally read, then run `stages` over its input block(s). */
export interface MapTaskSpec {
  readonly opName: string;
  readonly blockIndex: number;
  readonly read?: ReadSpec;
  readonly stages: readonly Stage[];
}

/** Display name of a stage (for explain() and errors). */
export function stageName(s: Stage): string {
  switch (s.kind) {
    case 'map':
    case 'filter':
    case 'flatMap':
    case 'mapBatches':
      return `${cap(s.kind)}(${s.fn.name})`;
    case 'addColumn':
      return `AddColumn(${s.column})`;
    case 'selectColumns':
    case 'dropColumns':
      return `${cap(s.kind)}(${s.columns.join(',')})`;
    case 'renameColumns':
      return `RenameColumns(${Object.entries(s.mapping).map(([a, b]) => `${a}->${b}`).join(',')})`;
    case 'head':
      return `Limit(${s.n})`;
    case 'write':
      return `Write${cap(s.format)}`;
  }
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}
