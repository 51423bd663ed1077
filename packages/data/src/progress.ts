/**
 * Progress bars, one line per operator (rows, blocks, bytes out, tasks running), redrawn at most every
 * 100 ms on a terminal. Quiet when stderr is not a TTY or RAYTS_DATA_PROGRESS=0.
 */
import type { PhysicalOperator } from './exec/physical-operator.js';
import { fmtBytes } from './stats.js';

export class ProgressBars {
  private last = 0;
  private drawn = 0;
  readonly enabled: boolean;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
    this.enabled = stream.isTTY === true && process.env.RAYTS_DATA_PROGRESS !== '0';
  }
  private readonly stream: NodeJS.WriteStream;

  update(ops: readonly PhysicalOperator[], force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const lines = ops.map((o) => `${o.name.slice(0, 40).padEnd(40)} ${String(o.metrics.rowsOut).padStart(10)} rows ${String(o.metrics.blocksOut).padStart(5)} blocks ${fmtBytes(o.metrics.bytesOut).padStart(10)}  running ${o.activeTasks()}`);
    if (this.drawn) this.stream.write(`\x1b[${this.drawn}A`);
    this.stream.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }

  finish(ops: readonly PhysicalOperator[]): void {
    this.update(ops, true);
  }
}
