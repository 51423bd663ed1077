/**
 * StateJournal: durable key/value tables kept as an append-only file of JSON lines. Responsible for
 * batching writes (changes coalesce per key; one append plus one fdatasync per flush interval, done
 * off the event loop), replaying the file at start (a torn or garbled line is skipped), and compacting
 * it (the live records written to a new file, fsync'd, renamed over the old one) once it is larger
 * than twice what is live. Not responsible for what the tables mean (see head-state-store.ts).
 *
 * Line format: `{"t":table,"k":key,"v":value}` sets a record, `{"t":table,"k":key,"d":1}` deletes it.
 * Byte arrays inside values are written as `{"$b":"<base64>"}`.
 *
 * Why a journal and not SQLite: see docs/head-restart.md (no native build, the state is small, and a
 * batch is one sequential append).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@samsara/ray-common';

/** Replayed tables: table → key → value. */
export type JournalTables = Map<string, Map<string, unknown>>;

export interface StateJournalOptions {
  /** The journal file. */
  readonly path: string;
  readonly log: Logger;
  /** Longest time a change waits before it is written [50 ms]. */
  readonly flushIntervalMs?: number;
  /** Below this size the file is never compacted [1 MiB]. */
  readonly compactMinBytes?: number;
  /** Called at the start of every flush, so sources that diff their tables can queue what changed. */
  readonly beforeFlush?: () => void;
}

/** What the journal did, for `rayts status` and for measuring its cost. */
export interface StateJournalStats {
  flushes: number;
  /** Records written (sets and deletes). */
  records: number;
  /** Bytes appended. */
  bytesWritten: number;
  /** Time spent on the event loop encoding batches, total and worst (ms). */
  encodeMsTotal: number;
  encodeMsMax: number;
  /** Wall time of append + fdatasync, total and worst (ms; off the event loop). */
  writeMsTotal: number;
  writeMsMax: number;
  compactions: number;
  fileBytes: number;
  liveBytes: number;
}

interface Pending {
  readonly t: string;
  readonly k: string;
  /** Set: the value (encoded at flush time) or its encoded line. */
  v?: unknown;
  line?: string;
  del?: boolean;
}

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return { $b: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.$b === 'string' && Object.keys(o).length === 1) return new Uint8Array(Buffer.from(o.$b, 'base64'));
  }
  return value;
}

function encodeSet(t: string, k: string, v: unknown): string {
  return JSON.stringify({ t, k, v }, replacer);
}

export class StateJournal {
  /** Encoded line of every live record: table → key → line. */
  private readonly latest = new Map<string, Map<string, string>>();
  private readonly pending = new Map<string, Pending>();
  private fh: FileHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly intervalMs: number;
  private readonly compactMinBytes: number;
  readonly stats: StateJournalStats = {
    flushes: 0,
    records: 0,
    bytesWritten: 0,
    encodeMsTotal: 0,
    encodeMsMax: 0,
    writeMsTotal: 0,
    writeMsMax: 0,
    compactions: 0,
    fileBytes: 0,
    liveBytes: 0,
  };

  private constructor(private readonly o: StateJournalOptions) {
    this.intervalMs = o.flushIntervalMs ?? 50;
    this.compactMinBytes = o.compactMinBytes ?? 1024 * 1024;
  }

  /**
   * Opens the journal. With `replay`, reads what an earlier process wrote and returns it (then
   * rewrites the file compacted, which also drops a torn tail); without, starts empty (truncating).
   * Synchronous: it runs once, before the head serves anything.
   */
  static open(o: StateJournalOptions, replay: boolean): { journal: StateJournal; tables: JournalTables } {
    const j = new StateJournal(o);
    const tables: JournalTables = new Map();
    if (replay && existsSync(o.path)) {
      const text = readFileSync(o.path, 'utf8');
      let bad = 0;
      for (const line of text.split('\n')) {
        if (!line) continue;
        let rec: { t?: unknown; k?: unknown; v?: unknown; d?: unknown };
        try {
          rec = JSON.parse(line, reviver) as typeof rec;
        } catch {
          bad++;
          continue;
        }
        if (typeof rec.t !== 'string' || typeof rec.k !== 'string') {
          bad++;
          continue;
        }
        const table = tables.get(rec.t) ?? new Map<string, unknown>();
        tables.set(rec.t, table);
        const lines = j.tableLines(rec.t);
        if (rec.d) {
          table.delete(rec.k);
          lines.delete(rec.k);
        } else {
          table.set(rec.k, rec.v);
          lines.set(rec.k, line);
        }
      }
      if (bad) o.log.warn({ path: o.path, bad }, 'state journal: skipped unreadable lines (a write torn by a crash)');
    }
    j.rewriteSync();
    return { journal: j, tables };
  }

  private tableLines(t: string): Map<string, string> {
    let m = this.latest.get(t);
    if (!m) {
      m = new Map();
      this.latest.set(t, m);
    }
    return m;
  }

  /** Records `value` under `table`/`key` (encoded at the next flush, so later changes coalesce). */
  put(table: string, key: string, value: unknown): void {
    if (this.closed) return;
    this.pending.set(`${table}\0${key}`, { t: table, k: key, v: value });
    this.schedule();
  }

  delete(table: string, key: string): void {
    if (this.closed) return;
    this.pending.set(`${table}\0${key}`, { t: table, k: key, del: true });
    this.schedule();
  }

  /**
   * Makes `table` hold exactly `entries`: queues the records whose encoding changed and deletes the
   * keys that are gone. Meant for `beforeFlush` (the caller marks the table dirty, the diff runs once
   * per flush).
   */
  syncTable(table: string, entries: Iterable<readonly [string, unknown]>): void {
    const lines = this.tableLines(table);
    const seen = new Set<string>();
    for (const [k, v] of entries) {
      seen.add(k);
      const line = encodeSet(table, k, v);
      if (lines.get(k) !== line) this.pending.set(`${table}\0${k}`, { t: table, k, line });
    }
    for (const k of lines.keys()) if (!seen.has(k)) this.pending.set(`${table}\0${k}`, { t: table, k, del: true });
  }

  /** Queues `value` under `table`/`key` when its encoding differs from what is on disk (encodes now). */
  putIfChanged(table: string, key: string, value: unknown): void {
    const line = encodeSet(table, key, value);
    if (this.tableLines(table).get(key) !== line) this.pending.set(`${table}\0${key}`, { t: table, k: key, line });
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Writes what is queued now (after `beforeFlush`). Resolves once it is on disk. */
  flush(): Promise<void> {
    this.chain = this.chain
      .then(() => this.writeBatch())
      .catch((e: unknown) => this.o.log.error({ err: (e as Error).message, path: this.o.path }, 'state journal: write failed'));
    return this.chain;
  }

  /** Asks for a flush within the interval (for sources that only diff in `beforeFlush`). */
  requestFlush(): void {
    this.schedule();
  }

  private async writeBatch(): Promise<void> {
    const t0 = performance.now();
    this.o.beforeFlush?.();
    if (this.pending.size === 0 || !this.fh) return;
    const parts: string[] = [];
    for (const p of this.pending.values()) {
      const lines = this.tableLines(p.t);
      if (p.del) {
        const old = lines.get(p.k);
        if (old === undefined) continue;
        lines.delete(p.k);
        this.stats.liveBytes -= old.length + 1;
        parts.push(JSON.stringify({ t: p.t, k: p.k, d: 1 }));
        continue;
      }
      const line = p.line ?? encodeSet(p.t, p.k, p.v);
      const old = lines.get(p.k);
      if (old === line) continue;
      lines.set(p.k, line);
      this.stats.liveBytes += line.length + 1 - (old === undefined ? 0 : old.length + 1);
      parts.push(line);
    }
    this.pending.clear();
    const encodeMs = performance.now() - t0;
    this.stats.encodeMsTotal += encodeMs;
    this.stats.encodeMsMax = Math.max(this.stats.encodeMsMax, encodeMs);
    if (parts.length === 0) return;
    const buf = Buffer.from(parts.join('\n') + '\n');
    const t1 = performance.now();
    await this.fh.write(buf);
    await this.fh.datasync();
    const writeMs = performance.now() - t1;
    this.stats.flushes++;
    this.stats.records += parts.length;
    this.stats.bytesWritten += buf.byteLength;
    this.stats.fileBytes += buf.byteLength;
    this.stats.writeMsTotal += writeMs;
    this.stats.writeMsMax = Math.max(this.stats.writeMsMax, writeMs);
    if (this.stats.fileBytes > this.compactMinBytes && this.stats.fileBytes > 2 * this.stats.liveBytes) await this.compact();
  }

  private liveText(): string {
    const out: string[] = [];
    for (const lines of this.latest.values()) for (const l of lines.values()) out.push(l);
    return out.length ? out.join('\n') + '\n' : '';
  }

  /** Rewrites the file with the live records only (tmp file, fsync, rename, fsync of the directory). */
  private async compact(): Promise<void> {
    const tmp = `${this.o.path}.tmp`;
    const buf = Buffer.from(this.liveText());
    const out = await open(tmp, 'w', 0o600);
    try {
      await out.write(buf);
      await out.datasync();
    } finally {
      await out.close();
    }
    await this.fh?.close();
    this.fh = undefined;
    await rename(tmp, this.o.path);
    await syncDir(dirname(this.o.path));
    this.fh = await open(this.o.path, 'a', 0o600);
    this.stats.compactions++;
    this.stats.fileBytes = buf.byteLength;
    this.stats.liveBytes = buf.byteLength;
  }

  private rewriteSync(): void {
    const tmp = `${this.o.path}.tmp`;
    const text = this.liveText();
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.o.path);
    try {
      const d = openSync(dirname(this.o.path), 'r');
      fsyncSync(d);
      closeSync(d);
    } catch {
      /* some file systems cannot fsync a directory; the rename is still atomic */
    }
    this.stats.fileBytes = Buffer.byteLength(text);
    this.stats.liveBytes = this.stats.fileBytes;
    this.chain = open(this.o.path, 'a', 0o600).then((fh) => {
      this.fh = fh;
    });
  }

  /** Writes what is queued and closes the file. Later puts are ignored. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* see rewriteSync */
  }
}
