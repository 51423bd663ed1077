/**
 * A small seeded PRNG (sfc32) whose whole state is four 32-bit integers, so searchers and schedulers can
 * save it in `experiment_state.json` and a restored experiment continues the same sequence. Decisions
 * that depend on randomness take an {@link Rng}; a seed makes a run repeat exactly.
 */

/** Seeded random numbers with serialisable state. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** The state to save; `Rng.fromState(state)` continues from here. */
  state(): number[];
}

class Sfc32 implements Rng {
  constructor(private a: number, private b: number, private c: number, private d: number) {}

  next(): number {
    this.a |= 0;
    this.b |= 0;
    this.c |= 0;
    this.d |= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  state(): number[] {
    return [this.a, this.b, this.c, this.d];
  }
}

/** A generator seeded with `seed` (any finite number); without a seed, from Math.random. */
export function createRng(seed?: number): Rng {
  const s = seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Math.floor(seed) >>> 0;
  const r = new Sfc32(0x9e3779b9, 0x243f6a88, 0xb7e15162, s);
  for (let i = 0; i < 15; i++) r.next();
  return r;
}

/** A generator continuing from a saved {@link Rng.state}. */
export function rngFromState(state: readonly number[]): Rng {
  return new Sfc32(state[0], state[1], state[2], state[3]);
}

/** Standard normal sample (Box–Muller). */
export function normal(rng: Rng): number {
  let u = rng.next();
  while (u <= 1e-300) u = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
