/**
 * Spill files of one store: one file per object in a private sub-directory of the configured spill dir.
 *
 * Responsible for: writing an object's bytes to disk straight from shared memory (no JS heap copy),
 * reading them back into shared memory, streaming them in bounded chunks, and removing everything on
 * close. Not responsible for: deciding what to spill (the store's LRU policy).
 *
 * Writes are synchronous because `put` is synchronous; reads are asynchronous.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** A file being written piece by piece (an object received from another node that exceeds capacity). */
export interface SpillFileWriter {
  readonly path: string;
  write(position: number, chunk: Uint8Array): void;
  /** Closes the file; it stays on disk. */
  finish(): void;
  /** Closes and removes the file. */
  discard(): void;
}

/** The largest single read or write handed to the OS (fs calls refuse lengths of 2 GiB and more). */
const MAX_IO_BYTES = 1 << 30;

export class SpillDirectory {
  private dir: string | undefined;
  private seq = 0;

  constructor(private readonly root: string) {}

  /** The private directory, created on first use. */
  private ensureDir(): string {
    if (!this.dir) {
      mkdirSync(this.root, { recursive: true });
      const dir = join(this.root, `rayts-spill-${process.pid}-${randomBytes(4).toString('hex')}`);
      mkdirSync(dir, { mode: 0o700 });
      this.dir = dir;
    }
    return this.dir;
  }

  private nextPath(): string {
    return join(this.ensureDir(), `${(++this.seq).toString(36)}.obj`);
  }

  /** Writes `data` to a new file and returns its path. */
  writeAll(data: Uint8Array): string {
    const w = this.createWriter();
    try {
      for (let pos = 0; pos < data.byteLength; ) {
        const n = Math.min(data.byteLength - pos, MAX_IO_BYTES);
        w.write(pos, data.subarray(pos, pos + n));
        pos += n;
      }
      w.finish();
    } catch (e) {
      w.discard();
      throw e;
    }
    return w.path;
  }

  /** Writes the segments back to back to a new file and returns its path. */
  writeSegments(segments: readonly Uint8Array[]): string {
    const w = this.createWriter();
    try {
      let pos = 0;
      for (const s of segments) {
        w.write(pos, s);
        pos += s.byteLength;
      }
      w.finish();
    } catch (e) {
      w.discard();
      throw e;
    }
    return w.path;
  }

  /** Opens a new file for positional writes. */
  createWriter(): SpillFileWriter {
    const path = this.nextPath();
    let fd: number | undefined = openSync(path, 'w', 0o600);
    const closeFd = (): void => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    };
    return {
      path,
      write(position, chunk) {
        if (fd === undefined) throw new Error(`spill file ${path} is closed`);
        // fs.writeSync takes at most 2 GiB - 1 per call (ERR_OUT_OF_RANGE beyond): write in 1 GiB pieces.
        for (let done = 0; done < chunk.byteLength; ) {
          done += writeSync(fd, chunk, done, Math.min(chunk.byteLength - done, MAX_IO_BYTES), position + done);
        }
      },
      finish: closeFd,
      discard() {
        closeFd();
        rmSync(path, { force: true });
      },
    };
  }

  /** Reads a whole file into `target` (a view of shared memory). */
  async readInto(path: string, target: Uint8Array): Promise<void> {
    const fh = await open(path, 'r');
    try {
      for (let done = 0; done < target.byteLength; ) {
        const n = Math.min(target.byteLength - done, 64 << 20);
        const { bytesRead } = await fh.read(target, done, n, done);
        if (bytesRead === 0) throw new Error(`spill file ${path} ended after ${done} of ${target.byteLength} bytes`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  /** Streams `[offset, end)` of a file in chunks of at most `chunkBytes`; each chunk is a fresh buffer. */
  async *stream(path: string, offset: number, end: number, chunkBytes: number): AsyncGenerator<Uint8Array> {
    const fh = await open(path, 'r');
    try {
      for (let pos = offset; pos < end; ) {
        const buf = Buffer.allocUnsafe(Math.min(chunkBytes, end - pos));
        let filled = 0;
        while (filled < buf.byteLength) {
          const { bytesRead } = await fh.read(buf, filled, buf.byteLength - filled, pos + filled);
          if (bytesRead === 0) throw new Error(`spill file ${path} ended at ${pos + filled} of ${end} bytes`);
          filled += bytesRead;
        }
        pos += filled;
        yield buf;
      }
    } finally {
      await fh.close();
    }
  }

  /** Removes one file (missing files are ignored). */
  remove(path: string): void {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }

  /** Removes the private directory and everything in it, then the root if it is empty. */
  close(): void {
    if (!this.dir) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    try {
      rmdirSync(this.root);
    } catch {
      // not empty (other stores, other files) or not ours: leave it
    }
  }
}
