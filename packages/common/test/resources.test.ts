import { describe, expect, it } from 'vitest';
import { addResources, subtractResources, fits, missingResources, formatResources, validateResources, parseLabels, InvalidArgumentError } from '../src/index.js';

describe('resources', () => {
  it('resources - 0.1 added and removed a thousand times returns exactly to zero', () => {
    let r = { CPU: 0 };
    for (let i = 0; i < 1000; i++) r = addResources(r, { CPU: 0.1 });
    expect(r.CPU).toBe(100);
    for (let i = 0; i < 1000; i++) r = subtractResources(r, { CPU: 0.1 });
    expect(r.CPU).toBe(0);
  });
  it('resources - fits and missing', () => {
    expect(fits({ CPU: 1, camera: 1 }, { CPU: 2 })).toBe(false);
    expect(missingResources({ CPU: 1, camera: 1 }, { CPU: 2 })).toEqual({ camera: 1 });
    expect(formatResources({ camera: 1, CPU: 0.5 })).toBe('{camera: 1, CPU: 0.5}');
  });
  it('resources - bad names and amounts are InvalidArgumentError', () => {
    expect(() => validateResources({ 'bad name': 1 }, 'x')).toThrow(InvalidArgumentError);
    expect(() => validateResources({ camera: -1 }, 'x')).toThrow(/must be a finite number ≥ 0, got -1/);
    expect(() => validateResources([1], 'x')).toThrow(/must be an object/);
  });
  it('parseLabels - k=v lists and errors', () => {
    expect(parseLabels('zone=b, soc=qcs6490')).toEqual({ zone: 'b', soc: 'qcs6490' });
    expect(() => parseLabels('zone')).toThrow(/not key=value/);
  });
});
