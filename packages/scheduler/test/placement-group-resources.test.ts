import { describe, expect, it } from 'vitest';
import { fits, InvalidArgumentError, subtractResources } from '@samsara/ray-common';
import { bundleResources, demandInGroup, nodeCapacity, splitNodeResources } from '../src/index.js';

describe('placement-group resources', () => {
  it('bundleResources - indexed and wildcard names plus the bundle markers', () => {
    expect(bundleResources('pg1', 2, { CPU: 1, GPU: 0.5, camera: 0 })).toEqual({
      CPU_group_2_pg1: 1,
      CPU_group_pg1: 1,
      GPU_group_2_pg1: 0.5,
      GPU_group_pg1: 0.5,
      bundle_group_2_pg1: 1000,
      bundle_group_pg1: 1000,
    });
    expect(bundleResources('pg1', 0, {})).toEqual({ bundle_group_0_pg1: 1000, bundle_group_pg1: 1000 });
  });

  it('demandInGroup - a bundle index selects the indexed names', () => {
    expect(demandInGroup('pg1', 1, { CPU: 1, camera: 1 })).toEqual({ CPU_group_1_pg1: 1, CPU_group_pg1: 1, camera_group_1_pg1: 1, camera_group_pg1: 1 });
  });

  it('demandInGroup - -1 or undefined selects any bundle', () => {
    expect(demandInGroup('pg1', -1, { CPU: 0.5 })).toEqual({ CPU_group_pg1: 0.5 });
    expect(demandInGroup('pg1', undefined, { CPU: 0.5 })).toEqual({ CPU_group_pg1: 0.5 });
  });

  it('demandInGroup - an empty demand asks for a sliver of the bundle marker', () => {
    expect(demandInGroup('pg1', 0, {})).toEqual({ bundle_group_0_pg1: 0.001 });
    expect(demandInGroup('pg1', undefined, { CPU: 0 })).toEqual({ bundle_group_pg1: 0.001 });
  });

  it('demandInGroup - a group demand fits exactly the committed bundle', () => {
    const committed = bundleResources('pg', 0, { CPU: 2 });
    const d = demandInGroup('pg', 0, { CPU: 1 });
    const after = subtractResources(committed, d);
    expect(fits(d, after)).toBe(true);
    expect(fits(d, subtractResources(after, d))).toBe(false);
    expect(fits(demandInGroup('pg', 1, { CPU: 1 }), committed)).toBe(false);
    expect(fits(demandInGroup('pg', -1, { CPU: 2 }), committed)).toBe(true);
  });

  it('demandInGroup - rejects a bad bundle index', () => {
    for (const bad of [-2, 1.5, Number.NaN]) expect(() => demandInGroup('pg', bad, { CPU: 1 })).toThrow(InvalidArgumentError);
    expect(() => demandInGroup('pg', -2, {})).toThrow('bundleIndex must be -1 (any bundle) or an integer ≥ 0, got -2.');
    expect(() => bundleResources('pg', -1, {})).toThrow('bundleIndex must be an integer ≥ 0, got -1.');
  });

  it('demandInGroup - tasks for bundle 0 and for any bundle cannot together exceed the bundle', () => {
    const committed = bundleResources('pg', 0, { CPU: 1 });
    const afterIndexed = subtractResources(committed, demandInGroup('pg', 0, { CPU: 1 }));
    expect(fits(demandInGroup('pg', -1, { CPU: 1 }), afterIndexed)).toBe(false);
  });

  it('splitNodeResources - capacity with bundles added back, free outside groups, one entry per bundle', () => {
    const pg = '00aa11bb22cc33dd';
    const committed = { ...bundleResources(pg, 0, { CPU: 1, camera: 1 }), ...bundleResources(pg, 1, { CPU: 2 }) };
    // the node offers CPU 4 and camera 1; bundles hold CPU 3 and the camera; one task runs in bundle 1
    const total = { CPU: 1, memory: 100, ...committed, CPU_group_00aa11bb22cc33dd: 3 };
    const available = { CPU: 0.5, memory: 100, ...subtractResources({ ...committed, CPU_group_00aa11bb22cc33dd: 3 }, demandInGroup(pg, 1, { CPU: 1 })) };
    const v = splitNodeResources(total, available);
    expect(v.resources).toEqual({ CPU: 4, memory: 100, camera: 1 });
    expect(v.available).toEqual({ CPU: 0.5, memory: 100, camera: 0 });
    expect(v.bundles).toEqual([
      { pgId: pg, bundleIndex: 0, resources: { CPU: 1, camera: 1 }, available: { CPU: 1, camera: 1 } },
      { pgId: pg, bundleIndex: 1, resources: { CPU: 2 }, available: { CPU: 1 } },
    ]);
    expect(nodeCapacity(total)).toEqual({ CPU: 4, memory: 100, camera: 1 });
    expect(splitNodeResources({ CPU: 2, my_group_name: 1 }, { CPU: 2, my_group_name: 1 }).resources).toEqual({ CPU: 2, my_group_name: 1 });
  });
});
