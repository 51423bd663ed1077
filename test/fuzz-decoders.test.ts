/**
 * Fuzzing the decoders a peer or a user reaches, without a cluster (issue 13, "Hostile input"):
 * data-plane frames (the frame reader and every frame decoder), the edge tunnel's delivery bookkeeping
 * and its wire messages (EdgeUp/EdgeDown, decoded by the generated module), the value codec's extension
 * types (ObjectRef, Map, Set, Arrow, error, actor handle), and `rayts` command lines. Each may refuse an
 * input only with its typed error, never crash or throw anything else. Counts are printed for
 * docs/security.md; RAYTS_FUZZ_RUNS scales them (scripts/fuzz.mjs runs more).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rayts } from '@samsara/ray-proto';
import { decodeValue, encodeValue, EXT, ObjectRef, RayError, SerializationError, type ObjectId } from '@samsara/ray-common';
import { FrameError, FrameReader, decodeError, decodeHello, decodeObjectHeader, decodePull, encodeHello, encodePull } from '../packages/core/src/rpc/data-frames.js';
import { Inbox } from '../packages/core/src/edge/tunnel-frames.js';
import { CLI } from './helpers/cli-cluster.js';

const RUNS = Number(process.env.RAYTS_FUZZ_RUNS ?? 300);
const counts: Record<string, number> = {};
const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);

/** Runs `f`; an error other than one of `allowed` fails the property. */
function onlyTyped(f: () => unknown, ...allowed: (new (...a: never[]) => Error)[]): void {
  try {
    f();
  } catch (e) {
    if (!allowed.some((c) => e instanceof c)) throw new Error(`untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

describe('fuzz - decoders', () => {
  it('data-plane frames - random byte streams in random chunks give frames or a FrameError', () => {
    const valid = [encodeHello('t'), encodePull('abc', 0), encodePull('x'.repeat(1024), 2 ** 40)];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...valid)), { maxLength: 8 }), (chunks) => {
        const r = new FrameReader();
        onlyTyped(() => {
          for (const c of chunks) {
            for (const f of r.push(Buffer.from(c))) {
              for (const d of [decodeHello, decodePull, decodeObjectHeader, decodeError]) onlyTyped(() => d(f.payload), FrameError);
            }
          }
        }, FrameError);
        count('data-plane frame streams');
      }),
      { numRuns: RUNS },
    );
  });

  it('edge tunnel - random EdgeUp/EdgeDown bytes decode or throw protobufjs errors; the inbox never delivers twice or out of order', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.integer({ min: -5, max: 50 }), { maxLength: 60 }), (bytes, seqs) => {
        for (const T of [rayts.EdgeUp, rayts.EdgeDown] as unknown as { decode(b: Uint8Array): unknown }[]) {
          try {
            T.decode(bytes);
          } catch (e) {
            // protobufjs reports malformed input with RangeError ("index out of range") or Error ("invalid wire type"):
            // the relay catches both per message and drops the stream (edge-relay.ts).
            expect(e).toBeInstanceOf(Error);
          }
        }
        const inbox = new Inbox();
        const delivered: number[] = [];
        for (const s of seqs) if (inbox.accept(s) === 'new') delivered.push(s);
        expect(delivered).toEqual(delivered.map((_, i) => i + 1));
        count('edge tunnel inputs');
      }),
      { numRuns: RUNS },
    );
  });

  it('codec extensions - random payloads under every extension type decode or give SerializationError', () => {
    const types = Object.values(EXT) as number[];
    fc.assert(
      fc.property(fc.constantFrom(...types, 0x42, 0x65, 0x74), fc.uint8Array({ maxLength: 120 }), (type, payload) => {
        // ext 32: 0xc9 + u32 length + type + payload
        const head = Buffer.alloc(6);
        head[0] = 0xc9;
        head.writeUInt32BE(payload.length, 1);
        head[5] = type;
        onlyTyped(() => decodeValue(Buffer.concat([head, payload])), SerializationError);
        count('codec extension payloads');
      }),
      { numRuns: RUNS },
    );
    // Valid values with every extension still round-trip.
    const ref = new ObjectRef('a.1' as ObjectId, '127.0.0.1:1');
    const v = decodeValue(encodeValue({ ref, m: new Map([[1, new Set([2n ** 80n])]]), e: new RayError('boom') })) as { ref: ObjectRef; m: Map<number, Set<bigint>>; e: Error };
    expect(v.ref).toBeInstanceOf(ObjectRef);
    expect(v.m.get(1)!.has(2n ** 80n)).toBe(true);
    expect(v.e.message).toContain('boom');
  });

  it('rayts command lines - random argv exits 0, 1 or 2 with a message, never a stack trace', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rayts-fuzz-cli-'));
    const env = { ...process.env, RAYTS_TMPDIR: tmp };
    delete env.RAYTS_TOKEN;
    delete env.RAYTS_ADDRESS;
    const run = promisify(execFile);
    const word = fc.oneof(
      fc.constantFrom('status', 'list', 'nodes', 'actors', 'tasks', 'objects', 'jobs', 'job', 'submit', 'logs', 'stop', 'cert', '--json', '--limit', '--address', '--token', '--num-cpus', '--resources', '--labels', '-1', 'NaN', '{}', '{"CPU":-1}', '127.0.0.1:1', '999999999999', '--', '../../etc/passwd', 'job_0123456789ab'),
      fc.string({ maxLength: 12 }),
    );
    const argvs = fc.sample(fc.array(word, { minLength: 1, maxLength: 5 }), Math.max(6, Math.round(RUNS / 40)));
    try {
      for (const argv of argvs) {
        const r = await run(process.execPath, [CLI, ...argv], { env, timeout: 30_000 }).then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (e: { code?: number | string; stdout?: string; stderr?: string }) => ({ code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
        );
        expect({ argv, code: [0, 1, 2].includes(r.code as number) }).toEqual({ argv, code: true });
        expect({ argv, trace: /\n\s+at .+:\d+:\d+/.test(r.stderr) }).toEqual({ argv, trace: false });
        count('rayts command lines');
      }
    } finally {
      await run(process.execPath, [CLI, 'stop', '--force'], { env }).catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    }
    console.log(`decoder fuzz counts: ${JSON.stringify(counts)}; 0 crashes, 0 untyped errors`);
  }, 300_000);
});
