import { describe, expect, it } from 'vitest';
import { tableFromArrays } from 'apache-arrow';
import {
  decodeValue,
  encodeValue,
  encodeError,
  decodeError,
  ObjectRef,
  SerializationError,
  TaskError,
  GetTimeoutError,
  SchedulingError,
  toTaskError,
  isRayError,
  RayError,
  type ObjectId,
} from '../src/index.js';

describe('codec', () => {
  it('codec - plain values, Maps, Sets, Dates, typed arrays and bigint round-trip', () => {
    const v = { a: 1, s: 'x', m: new Map([[1, 'one']]), set: new Set(['a']), d: new Date(5), f: new Float32Array([1.5, 2]), b: 10n, n: null };
    const out = decodeValue(encodeValue(v)) as typeof v;
    expect(out.m).toBeInstanceOf(Map);
    expect(out.m.get(1)).toBe('one');
    expect(out.set.has('a')).toBe(true);
    expect(out.d.getTime()).toBe(5);
    expect(Array.from(out.f)).toEqual([1.5, 2]);
    expect(out.b).toBe(10n);
  });
  it('codec - ObjectRefs inside values are collected and come back as ObjectRefs', () => {
    const refs: ObjectRef[] = [];
    const bytes = encodeValue({ inner: [new ObjectRef('abc.0' as ObjectId, '127.0.0.1:1')] }, refs);
    expect(refs.map((r) => r.id)).toEqual(['abc.0']);
    const out = decodeValue(bytes) as { inner: ObjectRef[] };
    expect(out.inner[0]).toBeInstanceOf(ObjectRef);
    expect(out.inner[0].ownerAddress).toBe('127.0.0.1:1');
  });
  it('codec - Arrow tables travel as IPC and keep their contents', () => {
    const t = tableFromArrays({ x: new Int32Array([1, 2, 3]), y: new Float64Array([0.5, 1.5, 2.5]) });
    const out = decodeValue(encodeValue({ t })) as { t: typeof t };
    expect(out.t.numRows).toBe(3);
    expect(Array.from(out.t.getChild('y')!.toArray() as Float64Array)).toEqual([0.5, 1.5, 2.5]);
  });
  it('codec - a function inside a value is a SerializationError naming its path', () => {
    expect(() => encodeValue({ cfg: { cb: () => 1 } })).toThrow(SerializationError);
    expect(() => encodeValue({ cfg: { cb: () => 1 } })).toThrow(/value\.cfg\.cb is a function/);
  });
  it('errors - TaskError keeps the original name, message and stack across the wire', () => {
    const orig = new TypeError('boom');
    const e = decodeError(encodeError(toTaskError('f', orig, { taskId: 't1' })));
    expect(e).toBeInstanceOf(TaskError);
    const te = e as TaskError;
    expect(te.originalName).toBe('TypeError');
    expect(te.originalMessage).toBe('boom');
    expect(te.remoteStack).toContain('TypeError: boom');
    expect(isRayError(te)).toBe(true);
  });
  it('errors - typed classes and codes survive the wire', () => {
    const g = decodeError(encodeError(new GetTimeoutError('late', { ids: { objectId: 'o' } })));
    expect(g).toBeInstanceOf(GetTimeoutError);
    expect((g as GetTimeoutError).code).toBe('GET_TIMEOUT');
    const s = decodeError(encodeError(new SchedulingError('no node', { infeasible: true })));
    expect((s as SchedulingError).infeasible).toBe(true);
  });
  it('errors - an unknown code and class name survive the wire, with a cause chain bounded against cycles', () => {
    class MyLibError extends RayError {
      override readonly code = 'MYLIB_BAD';
    }
    const root = new MyLibError('bad', { cause: new SyntaxError('at line 3') });
    const e = decodeError(encodeError(root)) as RayError;
    expect(e).toBeInstanceOf(RayError);
    expect(e.code).toBe('MYLIB_BAD');
    expect(e.name).toBe('MyLibError');
    expect((e.cause as Error).name).toBe('SyntaxError');
    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    const l = decodeError(encodeError(new RayError('top', { cause: loop })));
    let depth = 0;
    for (let c = (l as Error).cause; c; c = (c as Error).cause) depth++;
    expect(depth).toBe(8);
  });
});
