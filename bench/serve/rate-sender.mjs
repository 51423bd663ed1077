/**
 * The fixed-rate load generator of the Serve bench, in a process of its own (forked by http-load.mjs's
 * fixedRate). It writes pre-encoded keep-alive GET requests on raw sockets and reads only the status
 * line and the body's length of each reply, so that on a 2-core machine the generator is not one of
 * the busiest threads: node:http's client cost ~440 µs of CPU per request here, and its bursts queued
 * the servers' threads behind it on the cores. Open loop: a request goes out when it is due, on an idle
 * connection (up to `sockets`), or waits for one, and its latency counts from when it was due.
 *
 * Message in: { url, rate, n, sockets, warmup }. Message out: { samples: [[sentAtMs, latencyMs], ...],
 * wallMs, startedAt } or { error }.
 */
import { connect } from 'node:net';

/** One keep-alive connection with at most one request in flight. */
class Conn {
  constructor(host, port, onIdle, onError, onClose) {
    this.s = connect(port, host);
    this.s.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.due = -1;
    this.done = undefined;
    this.onIdle = onIdle;
    this.s.on('data', (d) => this.read(d));
    this.s.on('error', onError);
    this.s.on('close', () => {
      if (this.due >= 0) onError(new Error('connection closed with a request in flight'));
      else onClose(this);
    });
  }

  send(bytes, due, done) {
    this.due = due;
    this.done = done;
    this.s.write(bytes);
  }

  read(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let total;
    if (m) total = end + 4 + Number(m[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buf.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) return;
      total = last + 7;
    } else total = end + 4;
    if (this.buf.length < total) return;
    this.buf = this.buf.subarray(total);
    const { due, done } = this;
    this.due = -1;
    this.done = undefined;
    done(status, performance.now() - due);
    this.onIdle(this);
  }
}

async function run({ url, rate, n, sockets = 16, warmup = 200 }) {
  const u = new URL(url);
  const bytes = Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  let failure;
  let allDone = () => undefined;
  const idle = [];
  const waiting = [];
  const conns = [];
  const fail = (e) => {
    failure ??= e;
    allDone();
  };
  const onIdle = (c) => {
    const next = waiting.shift();
    if (next) c.send(bytes, next.due, next.done);
    else idle.push(c);
  };
  // A connection the server closed while idle (its keep-alive timeout) is dropped; a new one replaces it.
  const onClose = (c) => {
    for (const list of [idle, conns]) if (list.includes(c)) list.splice(list.indexOf(c), 1);
  };
  const submit = (due, done) => {
    const c = idle.pop() ?? (conns.length < sockets ? (conns.push(new Conn(u.hostname, Number(u.port), onIdle, fail, onClose)), conns.at(-1)) : undefined);
    if (c) c.send(bytes, due, done);
    else waiting.push({ due, done });
  };
  const check = (status) => {
    if (status !== 200) fail(new Error(`status ${status} from ${url}`));
  };
  for (let i = 0; i < warmup; i++) await new Promise((r) => submit(performance.now(), (st) => (check(st), r())));
  const samples = new Array(n);
  let answered = 0;
  const finished = new Promise((r) => (allDone = r));
  const start = performance.now();
  for (let i = 0; i < n && !failure; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    submit(sent, (st, ms) => {
      check(st);
      samples[i] = [sent - start, ms];
      if (++answered === n) allDone();
    });
  }
  if (!failure) await finished;
  const wallMs = performance.now() - start;
  for (const c of conns) c.s.destroy();
  if (failure) throw failure;
  return { samples, wallMs, startedAt: performance.timeOrigin + start };
}

process.once('message', (m) =>
  run(m).then(
    (r) => process.send(r, () => process.exit(0)),
    (e) => process.send({ error: e?.message ?? String(e) }, () => process.exit(1)),
  ),
);
