/**
 * The borrower protocol's two halves as policies: the borrower's BorrowTable (when it registers and
 * removes itself) and the owner's ReferenceCounter (when signed borrower counts let an object go). The
 * transport is a recording stub; the cluster-level behaviour is in test/borrowers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BorrowTable } from '../src/owner/borrow-table.js';
import { ReferenceCounter } from '../src/owner/reference-counter.js';
import { ObjectRef } from '@samsara/ray-common';

const tick = () => new Promise((r) => setImmediate(r));

function recordingTable() {
  const sent: { owner: string; deltas: { objectId: string; delta: number }[] }[] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> = Promise.resolve();
  const table = new BorrowTable({
    update: async (owner, deltas) => {
      sent.push({ owner, deltas });
      await gate;
    },
  });
  return {
    table,
    sent,
    /** Holds the owner's acknowledgements back until `open()`. */
    hold() {
      gate = new Promise((r) => (release = r));
    },
    open() {
      release?.();
    },
  };
}

describe('BorrowTable', () => {
  it('registers once per object however many holds, and removes itself with the count when the last hold ends', async () => {
    const { table, sent } = recordingTable();
    table.hold('a', 'owner:1');
    table.hold('a', 'owner:1');
    await table.settled();
    expect(sent).toEqual([{ owner: 'owner:1', deltas: [{ objectId: 'a', delta: 1 }] }]);
    table.unhold('a');
    await tick();
    expect(sent).toHaveLength(1);
    table.unhold('a');
    await tick();
    expect(sent[1]).toEqual({ owner: 'owner:1', deltas: [{ objectId: 'a', delta: -1 }] });
    expect(table.has('a')).toBe(false);
  });

  it('a hold that ends while its registration is in flight removes itself only after the owner acknowledged', async () => {
    const t = recordingTable();
    t.hold();
    t.table.hold('b', 'owner:2');
    await tick();
    t.table.unhold('b');
    await tick();
    expect(t.sent.map((s) => s.deltas[0].delta)).toEqual([1]);
    let settled = false;
    const s = t.table.settled().then(() => (settled = true));
    await tick();
    expect(settled).toBe(false);
    t.open();
    await s;
    await tick();
    expect(t.sent.map((x) => x.deltas[0].delta)).toEqual([1, -1]);
  });

  it('registrations made on our behalf are given back in the removal', async () => {
    const { table, sent } = recordingTable();
    table.registeredBy('c', 'owner:3');
    table.registeredBy('c', 'owner:3');
    table.hold('c', 'owner:3');
    await tick();
    expect(sent).toHaveLength(0);
    table.unhold('c');
    await tick();
    expect(sent).toEqual([{ owner: 'owner:3', deltas: [{ objectId: 'c', delta: -2 }] }]);
  });
});

describe('ReferenceCounter borrowers', () => {
  it('frees an object only when its borrowers are back to zero, whatever order their messages arrive in', () => {
    const freed: string[] = [];
    const rc = new ReferenceCounter((id) => freed.push(id));
    let ref: ObjectRef | undefined = rc.track(new ObjectRef('o1.0' as never, 'me:1'));
    rc.addSubmitted(['o1.0']);
    rc.removeLocal(['o1.0']);
    ref = undefined;
    void ref;
    // A removal overtakes its registration (sent on another channel) while a task still holds the object.
    expect(rc.updateBorrowers('node:b', [{ objectId: 'o1.0', delta: -1 }])).toEqual([]);
    rc.updateBorrowers('node:b', [{ objectId: 'o1.0', delta: 1 }]);
    rc.updateBorrowers('node:c', [{ objectId: 'o1.0', delta: 1 }]);
    rc.removeSubmitted(['o1.0']);
    expect(freed).toEqual([]);
    expect(rc.borrowersOf('o1.0')).toEqual(['node:c']);
    rc.dropBorrower('node:c');
    expect(freed).toEqual(['o1.0']);
    expect(rc.updateBorrowers('node:c', [{ objectId: 'o1.0', delta: -1 }])).toEqual(['o1.0']);
  });
});
