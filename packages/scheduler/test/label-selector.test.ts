import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@samsara/ray-common';
import { chooseNode, matchesLabels, parseLabelSelector } from '../src/index.js';
import { node } from './fixtures.js';

const labels = { zone: 'b', soc: 'qcs6490', 'ray.io/kind': 'edge' };

describe('label selectors', () => {
  it('matchesLabels - equals', () => {
    expect(matchesLabels(labels, { zone: 'b' })).toBe(true);
    expect(matchesLabels(labels, { zone: 'a' })).toBe(false);
    expect(matchesLabels(labels, { 'ray.io/kind': 'edge' })).toBe(true);
  });

  it('matchesLabels - not equals', () => {
    expect(matchesLabels(labels, { zone: '!a' })).toBe(true);
    expect(matchesLabels(labels, { zone: '!b' })).toBe(false);
  });

  it('matchesLabels - in and !in', () => {
    expect(matchesLabels(labels, { soc: 'in(qcs6490,qcs8550)' })).toBe(true);
    expect(matchesLabels(labels, { soc: 'in(qcs8550,x)' })).toBe(false);
    expect(matchesLabels(labels, { soc: '!in(qcs6490,qcs8550)' })).toBe(false);
    expect(matchesLabels(labels, { soc: '!in(a,b)' })).toBe(true);
  });

  it('matchesLabels - a missing key matches only the negative forms', () => {
    expect(matchesLabels(labels, { gpu: 'a100' })).toBe(false);
    expect(matchesLabels(labels, { gpu: 'in(a100,h100)' })).toBe(false);
    expect(matchesLabels(labels, { gpu: '!a100' })).toBe(true);
    expect(matchesLabels(labels, { gpu: '!in(a100,h100)' })).toBe(true);
  });

  it('matchesLabels - every key must match; an empty selector matches all', () => {
    expect(matchesLabels(labels, { zone: 'b', soc: 'in(qcs6490)' })).toBe(true);
    expect(matchesLabels(labels, { zone: 'b', soc: 'x' })).toBe(false);
    expect(matchesLabels({}, {})).toBe(true);
  });

  it('matchesLabels - inherited properties are not labels', () => {
    expect(matchesLabels({}, { toString: '!x' })).toBe(true);
    expect(matchesLabels({}, { constructor: 'in(x,y)' })).toBe(false);
  });

  it('parseLabelSelector - returns a frozen selector in canonical form', () => {
    const s = parseLabelSelector({ zone: ' b ', soc: 'in( qcs6490 , qcs8550 )', gpu: '! a100', x: '!in(y)' }, 'f.options()');
    expect(s).toEqual({ zone: 'b', soc: 'in(qcs6490,qcs8550)', gpu: '!a100', x: '!y' });
    expect(Object.isFrozen(s)).toBe(true);
    expect(parseLabelSelector({}, 'f')).toEqual({});
  });

  it('parseLabelSelector - rejects a non-object, naming the valid forms', () => {
    for (const bad of [null, 'zone=b', 3, ['zone'], new Map()]) {
      expect(() => parseLabelSelector(bad, 'f.options()')).toThrow(InvalidArgumentError);
    }
    expect(() => parseLabelSelector('zone=b', 'f.options()')).toThrow(
      /^f\.options\(\): labelSelector must be an object of label → expression, got "zone=b"\. Example: .*Valid forms: 'value' \(equals\), '!value' \(not equals\), 'in\(a,b\)' \(one of\), '!in\(a,b\)' \(none of\)\.$/,
    );
  });

  it('parseLabelSelector - rejects bad expressions, naming the entry', () => {
    for (const bad of ['', 'in()', 'in(a,)', 'in(a', 'a b', 'a,b', '!', '!!a', 'in(a,(b))']) {
      expect(() => parseLabelSelector({ zone: bad }, 'f')).toThrow(InvalidArgumentError);
    }
    expect(() => parseLabelSelector({ zone: 3 }, 'f.options()')).toThrow(
      "f.options(): labelSelector.zone is 3, which is not a valid expression. Valid forms: 'value' (equals), '!value' (not equals), 'in(a,b)' (one of), '!in(a,b)' (none of).",
    );
    expect(() => parseLabelSelector({ zone: 'in(a,)' }, 'f')).toThrow('f: labelSelector.zone is "in(a,)", which is not a valid expression.');
  });

  it('parseLabelSelector - rejects bad keys', () => {
    expect(() => parseLabelSelector({ 'a b': 'x' }, 'f')).toThrow('f: labelSelector key "a b" is not a valid label key.');
    expect(() => parseLabelSelector({ '': 'x' }, 'f')).toThrow(InvalidArgumentError);
  });

  it('matchesLabels - throws for a malformed expression it is given directly', () => {
    expect(() => matchesLabels(labels, { zone: 'in(' })).toThrow(InvalidArgumentError);
  });

  it('chooseNode - label selectors filter nodes for DEFAULT', () => {
    const nodes = [node('a', { CPU: 4 }, { labels: { zone: 'a' } }), node('b', { CPU: 4 }, { labels: { zone: 'b' } }), node('c', { CPU: 4 })];
    const place = (sel: Record<string, string>) => chooseNode(nodes, { demand: { CPU: 1 }, strategy: 'DEFAULT', labelSelector: sel, localNodeId: 'a' });
    expect(place({ zone: 'b' })).toEqual({ kind: 'placed', nodeId: 'b' });
    expect(place({ zone: '!a' })).toEqual({ kind: 'placed', nodeId: 'b' });
    expect(place({ zone: '!in(a,b)' })).toEqual({ kind: 'placed', nodeId: 'c' });
    expect(place({ zone: 'in(a,b)' })).toEqual({ kind: 'placed', nodeId: 'a' });
    expect(place({ zone: 'q' })).toEqual({ kind: 'infeasible', reason: 'no node matches labels {zone: q}' });
  });
});
