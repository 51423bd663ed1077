import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@samsara/ray-common';
import { resolveTaskOptions } from '../src/api/options.js';

describe('resolveTaskOptions', () => {
  it('resolveTaskOptions - defaults: 1 CPU, 3 retries, DEFAULT scheduling', () => {
    const o = resolveTaskOptions({}, 'f');
    expect(o.demand).toEqual({ CPU: 1 });
    expect(o.maxRetries).toBe(3);
    expect(o.scheduling).toBe('DEFAULT');
    expect(Object.isFrozen(o)).toBe(true);
  });
  it('resolveTaskOptions - custom and fractional resources', () => {
    const o = resolveTaskOptions({ numCpus: 0.5, numGpus: 1, memory: 1024, resources: { spark_executor: 0.25, camera: 1 } }, 'f');
    expect(o.demand).toEqual({ CPU: 0.5, GPU: 1, memory: 1024, spark_executor: 0.25, camera: 1 });
  });
  it('resolveTaskOptions - unknown option names are listed with the valid ones', () => {
    expect(() => resolveTaskOptions({ numCPUs: 2 } as never, 'f.options()')).toThrow(InvalidArgumentError);
    expect(() => resolveTaskOptions({ numCPUs: 2 } as never, 'f.options()')).toThrow(/unknown option "numCPUs".*Valid options: numCpus, numGpus/);
  });
  it('resolveTaskOptions - negative, NaN and non-integer amounts above 1 are rejected', () => {
    expect(() => resolveTaskOptions({ numCpus: -1 }, 'f')).toThrow(/numCpus must be a finite number ≥ 0, got -1/);
    expect(() => resolveTaskOptions({ numCpus: NaN }, 'f')).toThrow(/got NaN/);
    expect(() => resolveTaskOptions({ resources: { camera: 1.5 } }, 'f')).toThrow(/above 1 must be whole numbers/);
    expect(() => resolveTaskOptions({ resources: { CPU: 1 } }, 'f')).toThrow(/set through numCpus/);
  });
  it('resolveTaskOptions - retries and strategies are validated', () => {
    expect(resolveTaskOptions({ maxRetries: -1 }, 'f').maxRetries).toBe(-1);
    expect(() => resolveTaskOptions({ maxRetries: -2 }, 'f')).toThrow(/maxRetries must be an integer ≥ -1/);
    expect(resolveTaskOptions({ scheduling: { nodeId: 'n1', soft: true } }, 'f').scheduling).toEqual({ nodeId: 'n1', soft: true });
    expect(() => resolveTaskOptions({ scheduling: 'PACK' as never }, 'f')).toThrow(/'DEFAULT', 'SPREAD' or \{ nodeId, soft\? \}/);
    expect(resolveTaskOptions({ retryExceptions: ['TypeError'] }, 'f').retryExceptions).toEqual(['TypeError']);
  });
});
