/**
 * Question: how fast does this machine copy 800 MiB between two warm, preallocated buffers?
 * The ceiling for single_client_put_gigabytes (issue 7: put ≥ 50% of memcpy in the same run).
 * Counted as Ray counts its put rows: 800 MiB = 0.8 "GB" (1 GB = 1000 MiB), so the ratio is like for like.
 */
import { defineBench } from '../harness.mjs';

const BYTES = 800 * 1024 * 1024;

export default defineBench({
  name: 'memcpy_gigabytes',
  unit: 'GB/s',
  anchor: 9.92, // the anchor's 10.4 GB/s (10^9 B) in these 1000-MiB units
  setup: () => {
    const src = Buffer.alloc(BYTES, 1);
    const dst = Buffer.alloc(BYTES); // zero-filled: every page touched before the clock starts
    return { src, dst };
  },
  run: async ({ state }) => {
    state.src.copy(state.dst);
    return 0.8;
  },
  teardown: (ctx) => {
    ctx.state = undefined;
  },
});
