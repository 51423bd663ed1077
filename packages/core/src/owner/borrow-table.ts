/**
 * BorrowTable: the refs a process holds to objects owned elsewhere (the borrower side of distributed
 * reference counting, as Ray's). While a process holds such a ref — an ObjectRef instance, a pending
 * task it submitted with the ref nested in an argument, or an object it owns that contains the ref — the
 * owner must not free the object. The table registers this process with the owner (`+1`) when it starts
 * holding a ref the owner does not know it holds, and removes itself (`-registered`) when its last hold
 * ends.
 *
 * Counts are signed deltas per (object, borrower) at the owner, so messages on different channels may
 * arrive in any order: a removal is sent only after the registrations it cancels were acknowledged, and
 * a registration made on our behalf by someone else (a node that put the ref in a result for us) arrives
 * before that result does.
 *
 * `settled()` resolves when every registration in flight was acknowledged: a node waits for it before a
 * task's result leaves, so the submitter stops counting the task's arguments only after the owner
 * counts this node.
 */
export interface BorrowTransport {
  /** Sends deltas for objects of one owner; resolves when the owner applied them. */
  update(ownerAddress: string, deltas: { objectId: string; delta: number }[]): Promise<void>;
}

interface Entry {
  readonly owner: string;
  /** Things in this process holding the ref. */
  holds: number;
  /** Registrations the owner has counted for us (ours and ones made on our behalf). */
  registered: number;
  /** A registration of ours is in flight. */
  registering: boolean;
}

/** How long a registration may take before the barrier gives up on it (owner gone or unreachable). */
const REGISTER_TIMEOUT_MS = 10_000;

export class BorrowTable {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Registrations and removals queued for the next flush, per owner. */
  private queued = new Map<string, Map<string, number>>();
  private flushScheduled = false;
  private waiters: { owner: string; id: string; done: () => void }[] = [];

  constructor(private readonly transport: BorrowTransport) {}

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts `n` holds of a ref owned at `owner`; registers with the owner if it does not count us yet. */
  hold(id: string, owner: string, n = 1): void {
    const e = this.entry(id, owner);
    e.holds += n;
    if (e.registered <= 0 && !e.registering) this.register(id, e);
  }

  /** The owner already counted us `n` times (registered on our behalf by whoever sent us the ref). */
  registeredBy(id: string, owner: string, n = 1): void {
    this.entry(id, owner).registered += n;
  }

  /** A registration made on our behalf for a ref we will not keep: gives it back at once (unless held). */
  giveBack(id: string, owner: string): void {
    const e = this.entry(id, owner);
    e.registered += 1;
    this.maybeRelease(id, e);
  }

  /** Ends `n` holds; when none is left, removes this process from the owner's borrowers. */
  unhold(id: string, n = 1): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.holds -= n;
    this.maybeRelease(id, e);
  }

  /** Resolves when every registration in flight has been acknowledged (or has timed out). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Forgets everything (the process or job ends; the owners drop their objects themselves). */
  clear(): void {
    this.entries.clear();
    this.queued.clear();
  }

  private entry(id: string, owner: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { owner, holds: 0, registered: 0, registering: false };
      this.entries.set(id, e);
    }
    return e;
  }

  private maybeRelease(id: string, e: Entry): void {
    if (e.holds > 0 || e.registering) return;
    this.entries.delete(id);
    if (e.registered > 0) this.enqueue(e.owner, id, -e.registered);
  }

  private register(id: string, e: Entry): void {
    e.registering = true;
    const p = new Promise<void>((resolve) => {
      this.waiters.push({ owner: e.owner, id, done: resolve });
      this.enqueue(e.owner, id, 1);
    });
    const tracked = p.then(() => {
      this.inFlight.delete(tracked);
      e.registering = false;
      e.registered += 1;
      if (this.entries.get(id) === e) this.maybeRelease(id, e);
    });
    this.inFlight.add(tracked);
  }

  private enqueue(owner: string, id: string, delta: number): void {
    let m = this.queued.get(owner);
    if (!m) {
      m = new Map();
      this.queued.set(owner, m);
    }
    m.set(id, (m.get(id) ?? 0) + delta);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queued;
    const waiters = this.waiters;
    this.queued = new Map();
    this.waiters = [];
    for (const [owner, m] of queued) {
      const deltas = [...m].filter(([, d]) => d !== 0).map(([objectId, delta]) => ({ objectId, delta }));
      const mine = waiters.filter((w) => w.owner === owner);
      const done = () => {
        for (const w of mine) w.done();
      };
      if (deltas.length === 0) {
        done();
        continue;
      }
      // An owner that is gone or unreachable frees nothing of ours: give up after a while.
      const timer = setTimeout(done, REGISTER_TIMEOUT_MS);
      timer.unref();
      this.transport.update(owner, deltas).then(
        () => {
          clearTimeout(timer);
          done();
        },
        () => {
          clearTimeout(timer);
          done();
        },
      );
    }
  }
}
