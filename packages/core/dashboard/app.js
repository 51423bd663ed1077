// rayts dashboard client: plain JS, no build step. Hash routes (#/overview, #/tasks, #/jobs/<id>, ...),
// each page polls its JSON route every second while shown. Data is only ever put in the page as text
// (textContent), never as HTML.
'use strict';

const POLL_MS = 1000;
const main = document.getElementById('main');
const live = document.getElementById('live');
const logoutBtn = document.getElementById('logout');
let timer = 0;
let generation = 0;
const logState = { id: '', offset: 0, text: '' };

// ---- helpers --------------------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const short = (id) => (id ? String(id).slice(0, 8) : '—');
// Task ids share their process's prefix: the tail is what tells them apart.
const tail = (id) => (id ? `…${String(id).slice(-8)}` : '—');
function bytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${u[i]}`;
}
function num(n) { return Number.isInteger(n) ? String(n) : (Math.round(n * 100) / 100).toString(); }
function ago(ms) {
  if (!ms) return '—';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}
function duration(a, b) {
  if (!a) return '—';
  const s = ((b || Date.now()) - a) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`;
}
const STATE_CLASS = {
  ALIVE: 'ok', FINISHED: 'ok', SUCCEEDED: 'ok', CREATED: 'ok', RUNNING: 'info', HEALTHY: 'ok',
  PENDING: 'warn', RETRYING: 'warn', RESTARTING: 'warn', DEAD: 'bad', FAILED: 'bad', STOPPED: 'bad', CANCELLED: '', REMOVED: '',
};
const badge = (s) => h('span', { class: `badge ${STATE_CLASS[s] ?? ''}` }, s || '—');
function bar(used, total, hot) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const b = h('span', { class: `bar${hot && pct > 85 ? ' hot' : ''}` }, h('span'));
  b.firstChild.style.width = `${pct}%`;
  return b;
}
function table(columns, rows, empty) {
  if (!rows.length) return h('div', { class: 'panel' }, h('div', { class: 'empty' }, empty));
  return h('div', { class: 'panel' }, h('table', {}, h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))), h('tbody', {}, rows)));
}
function card(label, value, sub) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}
function sum(obj, keys) { return keys.reduce((s, k) => s + (obj?.[k] ?? 0), 0); }

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (r.status === 401) throw Object.assign(new Error('not logged in'), { status: 401 });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function showLogin() {
  logoutBtn.hidden = true;
  live.className = 'live off';
  live.textContent = 'not logged in';
  main.replaceChildren(
    h('div', { class: 'login' },
      h('h1', {}, 'Log in to the rayts dashboard'),
      h('p', {}, 'On the head machine, run'),
      h('p', {}, h('code', {}, 'rayts dashboard')),
      h('p', {}, 'and open the one-time link it prints. Scripts and Prometheus send ', h('code', {}, 'Authorization: Bearer <cluster token>'), ' instead.')));
}

// ---- pages ----------------------------------------------------------------------------------------
function resourcesCell(total, used) {
  const names = Object.keys(total || {}).sort((a, b) => (a === 'CPU' ? -1 : b === 'CPU' ? 1 : a.localeCompare(b)));
  if (!names.length) return h('td', { class: 'muted' }, 'none');
  return h('td', {}, h('div', { class: 'res' }, names.map((k) => {
    const t = total[k];
    const u = used?.[k] ?? 0;
    const label = k === 'memory' ? `${bytes(u)} / ${bytes(t)}` : `${num(u)} / ${num(t)}`;
    return h('div', { title: `${k}: ${num(u)} used of ${num(t)}` }, bar(u, t), `${k} ${label}`);
  })));
}

const pages = {
  async overview() {
    const c = await api('/api/cluster');
    document.getElementById('cluster-address').textContent = `head ${c.headAddress}`;
    const alive = c.nodes.filter((n) => n.state === 'ALIVE');
    const edge = alive.filter((n) => n.kind === 'edge').length;
    const cpuT = alive.reduce((s, n) => s + (n.total.CPU ?? 0), 0);
    const cpuU = alive.reduce((s, n) => s + (n.used.CPU ?? 0), 0);
    const rows = c.nodes.map((n) => h('tr', {},
      h('td', {}, h('span', { class: 'mono', title: n.nodeId }, short(n.nodeId)), ' ', h('span', { class: `kind ${n.kind}` }, n.kind),
        h('div', { class: 'muted mono' }, `${n.hostname || '?'} · ${n.address}`)),
      h('td', {}, badge(n.state), n.deathReason ? h('div', { class: 'error' }, n.deathReason) : null),
      resourcesCell(n.total, n.used),
      h('td', {}, n.telemetry ? num(n.telemetry.cpuLoad) : '—'),
      h('td', {}, n.telemetry ? [bar(n.telemetry.memUsedBytes, n.telemetry.memTotalBytes, true), `${bytes(n.telemetry.memUsedBytes)} / ${bytes(n.telemetry.memTotalBytes)}`] : '—'),
      h('td', {}, n.telemetry && n.telemetry.temperatureC !== null ? `${n.telemetry.temperatureC.toFixed(1)} °C` : h('span', { class: 'muted', title: 'no thermal zone on this device' }, 'n/a')),
      h('td', {}, n.store ? [bar(n.store.usedBytes, n.store.capacityBytes), `${bytes(n.store.usedBytes)} / ${bytes(n.store.capacityBytes)}`] : '—'),
      h('td', {}, `${n.queuedTasks} / ${n.runningTasks}`),
      h('td', {}, n.state === 'ALIVE' ? `${(n.heartbeatAgoMs / 1000).toFixed(1)} s` : '—')));
    return [
      h('h1', {}, 'Cluster'),
      h('div', { class: 'cards' },
        card('Nodes alive', String(alive.length), `${edge} edge camera${edge === 1 ? '' : 's'} · ${c.counts.nodes.DEAD ?? 0} dead`),
        card('CPU in use', `${num(cpuU)} / ${num(cpuT)}`),
        card('Tasks running', String(c.counts.tasks.RUNNING ?? 0), `${c.counts.tasks.PENDING ?? 0} pending · ${c.counts.tasks.FINISHED ?? 0} finished · ${c.counts.tasks.FAILED ?? 0} failed`),
        card('Actors alive', String(c.counts.actors.ALIVE ?? 0), `${c.counts.actors.DEAD ?? 0} dead · ${c.counts.actors.RESTARTING ?? 0} restarting`),
        card('Jobs running', String(c.counts.jobs.RUNNING ?? 0), `${sum(c.counts.jobs, ['SUCCEEDED'])} succeeded · ${sum(c.counts.jobs, ['FAILED', 'STOPPED'])} failed/stopped`),
        card('Placement groups', String(c.counts.placementGroups.CREATED ?? 0), `${c.counts.placementGroups.PENDING ?? 0} pending`)),
      h('h2', {}, 'Nodes and edge cameras'),
      table(['Node · host', 'State', 'Resources (used / total)', 'Load', 'Memory', 'Temp', 'Object store', 'Queued / running', 'Heartbeat'], rows, 'No nodes have joined.'),
    ];
  },

  async tasks(params) {
    const qs = new URLSearchParams();
    for (const k of ['state', 'job', 'node', 'name']) if (params.get(k)) qs.set(k, params.get(k));
    const t = await api(`/api/tasks?${qs}`);
    const setFilter = (k, v) => {
      const p = new URLSearchParams(params);
      if (v) p.set(k, v); else p.delete(k);
      location.hash = `#/tasks?${p}`;
    };
    const states = ['PENDING', 'RUNNING', 'FINISHED', 'FAILED', 'RETRYING', 'CANCELLED'];
    const chips = h('div', { class: 'chips' },
      h('button', { type: 'button', class: `chip${params.get('state') ? '' : ' active'}`, onclick: () => setFilter('state', '') }, 'All', h('b', {}, String(Object.values(t.counts).reduce((a, b) => a + b, 0)))),
      states.map((s) => h('button', { type: 'button', class: `chip${params.get('state') === s ? ' active' : ''}`, 'data-state': s, onclick: () => setFilter('state', s) }, s, h('b', {}, String(t.counts[s] ?? 0)))));
    const input = (k, label, ph) => h('label', {}, label, h('input', { name: k, value: params.get(k) || '', placeholder: ph, onchange: (e) => setFilter(k, e.target.value.trim()) }));
    const filters = h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() }, input('name', 'Name contains', 'e.g. square'), input('job', 'Job id', 'job id'), input('node', 'Node id (prefix)', 'node id'));
    const pending = t.pending.length
      ? h('div', { class: 'notice', id: 'pending-reasons' }, h('h2', {}, `Waiting tasks (${t.pending.length}) and why`),
          h('ul', {}, t.pending.slice(0, 20).map((p) => h('li', {}, h('b', {}, p.name || tail(p.taskId)), ' ', h('span', { class: 'mono muted' }, tail(p.taskId)), ': ', h('span', { class: 'reason' }, p.reason || 'waiting for resources')))))
      : null;
    const rows = t.tasks.map((x) => h('tr', { 'data-task': x.taskId },
      h('td', { class: 'mono', title: x.taskId }, tail(x.taskId)),
      h('td', {}, x.name || '—', x.actorId ? h('div', { class: 'muted' }, `actor ${short(x.actorId)}`) : null),
      h('td', {}, badge(x.state)),
      h('td', { class: 'mono' }, x.jobId || '—'),
      h('td', { class: 'mono', title: x.nodeId }, short(x.nodeId)),
      h('td', {}, String(x.attempt)),
      h('td', { class: `wrap ${x.state === 'FAILED' ? 'error' : 'reason'}` }, x.reason || ''),
      h('td', { class: 'muted' }, ago(x.timeMs))));
    return [
      h('h1', {}, 'Tasks'), chips, filters, pending,
      h('p', { class: 'muted' }, `${t.matched} matching task${t.matched === 1 ? '' : 's'}${t.matched > t.tasks.length ? `, newest ${t.tasks.length} shown` : ''}.`),
      table(['Task', 'Name', 'State', 'Job', 'Node', 'Attempt', 'Reason / error', 'Last event'], rows, 'No tasks match.'),
    ];
  },

  async actors() {
    const { actors } = await api('/api/actors');
    const rows = actors.map((a) => h('tr', {},
      h('td', { class: 'mono', title: a.actorId }, short(a.actorId)),
      h('td', {}, a.className || '—'),
      h('td', {}, a.name ? h('b', {}, a.name) : h('span', { class: 'muted' }, 'unnamed'), h('div', { class: 'muted' }, [a.namespace && `namespace ${a.namespace}`, a.detached && 'detached'].filter(Boolean).join(' · '))),
      h('td', {}, badge(a.state)),
      h('td', { class: 'mono', title: a.nodeId }, short(a.nodeId)),
      h('td', {}, `${a.numRestarts} / ${a.maxRestarts < 0 ? '∞' : a.maxRestarts}`),
      h('td', { class: 'mono' }, a.jobId || '—'),
      h('td', { class: 'wrap error' }, a.state === 'DEAD' ? (a.deathCause || a.reason || '') : (a.reason || ''))));
    return [h('h1', {}, 'Actors'), table(['Actor', 'Class', 'Name', 'State', 'Node', 'Restarts', 'Job', 'Death cause'], rows, 'No actors yet.')];
  },

  async 'placement-groups'() {
    const { placementGroups } = await api('/api/placement-groups');
    const fmt = (r) => Object.entries(r).filter(([k]) => !k.includes('_group_')).map(([k, v]) => `${k}: ${num(v)}`).join(', ');
    const rows = placementGroups.map((g) => h('tr', {},
      h('td', { class: 'mono', title: g.pgId }, short(g.pgId)),
      h('td', {}, g.name || '—'),
      h('td', {}, g.strategy),
      h('td', {}, badge(g.state)),
      h('td', {}, h('div', { class: 'res' }, g.bundles.map((b, i) => h('div', {}, `#${i} {${fmt(b.resources)}} → `, h('span', { class: 'mono' }, b.nodeId ? short(b.nodeId) : 'unplaced'))))),
      h('td', { class: 'wrap reason' }, g.reason || '')));
    return [h('h1', {}, 'Placement groups'), table(['Group', 'Name', 'Strategy', 'State', 'Bundles → node', 'Reason'], rows, 'No placement groups.')];
  },

  async jobs(params, rest) {
    if (rest) return jobLog(rest);
    const { jobs } = await api('/api/jobs');
    jobs.sort((a, b) => b.startMs - a.startMs);
    const rows = jobs.map((j) => h('tr', {},
      h('td', {}, j.submissionId ? h('a', { href: `#/jobs/${encodeURIComponent(j.submissionId)}`, class: 'mono' }, j.submissionId) : h('span', { class: 'mono' }, j.jobId)),
      h('td', {}, j.type === 'SUBMISSION' ? 'submitted' : 'driver'),
      h('td', {}, badge(j.state)),
      h('td', { class: 'wrap mono' }, j.entrypoint || '—'),
      h('td', { class: 'muted' }, ago(j.startMs)),
      h('td', {}, duration(j.startMs, j.endMs)),
      h('td', {}, j.exitCode === null ? '—' : String(j.exitCode)),
      h('td', { class: 'wrap error' }, j.message || '')));
    return [h('h1', {}, 'Jobs'), h('p', { class: 'muted' }, 'Submitted jobs link to their logs. Submit with rayts job submit -- node script.mjs.'),
      table(['Job', 'Type', 'State', 'Entrypoint', 'Started', 'Duration', 'Exit', 'Message'], rows, 'No jobs yet.')];
  },

  async objects() {
    const o = await api('/api/objects');
    const rows = o.nodes.map((n) => h('tr', {},
      h('td', {}, h('span', { class: 'mono', title: n.nodeId }, short(n.nodeId)), ' ', h('span', { class: `kind ${n.kind}` }, n.kind)),
      h('td', {}, n.store ? [bar(n.store.usedBytes, n.store.capacityBytes, true), `${bytes(n.store.usedBytes)} / ${bytes(n.store.capacityBytes)}`] : '—'),
      h('td', {}, n.store ? String(n.store.numObjects) : '—'),
      h('td', {}, n.store ? bytes(n.store.spilledBytes) : '—')));
    return [
      h('h1', {}, 'Object store'),
      h('div', { class: 'cards' }, card('In memory', bytes(o.total.usedBytes), `of ${bytes(o.total.capacityBytes)}`), card('Objects', String(o.total.numObjects)), card('Spilled to disk', bytes(o.total.spilledBytes))),
      table(['Node', 'Used / capacity', 'Objects', 'Spilled'], rows, 'No alive nodes.'),
    ];
  },

  serve: () => sectionsPage('serve', 'Serve apps', 'No Serve app has published a section yet.'),
  tune: () => sectionsPage('tune', 'Tune experiments', 'No Tune experiment has published a section yet.'),
  workflow: () => sectionsPage('workflow', 'Workflow runs', 'No workflow run has published a section yet.'),
  libraries: () => sectionsPage('', 'Library sections', 'No library has published a section.'),
};

async function sectionsPage(library, title, empty) {
  const { sections } = await api(`/api/sections${library ? `?library=${library}` : ''}`);
  const own = library ? sections : sections.filter((s) => !['serve', 'tune', 'workflow'].includes(s.library));
  if (!own.length) {
    return [h('h1', {}, title), h('div', { class: 'panel' }, h('div', { class: 'empty' }, empty, ' Libraries publish with ',
      h('code', {}, `kv.put('dashboard', 'section/${library || '<library>'}/<id>', JSON.stringify({ title, columns, rows }))`), '.'))];
  }
  return [h('h1', {}, title), own.map((s) => h('div', { class: 'section', 'data-section': s.key },
    h('h2', {}, s.title, library ? null : h('span', { class: 'muted' }, ` · ${s.library}`)),
    s.note ? h('p', { class: 'note muted' }, s.note) : null,
    s.error ? h('p', { class: 'error' }, s.error) : table(s.columns, s.rows.map((r) => h('tr', {}, r.map((v) => h('td', { class: 'wrap' }, v === null ? '—' : String(v))))), 'No rows.'),
    s.links.length ? h('p', { class: 'links' }, s.links.map((l) => h('a', { href: l.href, rel: 'noopener noreferrer', target: '_blank' }, l.label))) : null))];
}

async function jobLog(id) {
  const { jobs } = await api('/api/jobs');
  const j = jobs.find((x) => x.submissionId === id);
  if (logState.id !== id) Object.assign(logState, { id, offset: 0, text: '' });
  // Read everything new since the last poll (bounded chunks).
  for (let i = 0; i < 8; i++) {
    const r = await api(`/api/jobs/${encodeURIComponent(id)}/logs?offset=${logState.offset}`);
    if (r.offset === logState.offset) break;
    logState.text += r.text;
    logState.offset = r.offset;
    if (logState.text.length > 2_000_000) logState.text = logState.text.slice(-1_500_000);
  }
  const pre = h('pre', { class: 'log', id: 'job-log' }, logState.text || '(no output yet)');
  const prev = document.getElementById('job-log');
  const atBottom = !prev || prev.scrollTop + prev.clientHeight >= prev.scrollHeight - 8;
  queueMicrotask(() => { if (atBottom) pre.scrollTop = pre.scrollHeight; else pre.scrollTop = prev.scrollTop; });
  return [
    h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
    h('h1', {}, `Job ${id}`),
    j ? h('dl', { class: 'kv' },
      h('dt', {}, 'State'), h('dd', {}, badge(j.state)),
      h('dt', {}, 'Entrypoint'), h('dd', { class: 'mono' }, j.entrypoint),
      h('dt', {}, 'Driver job'), h('dd', { class: 'mono' }, j.jobId || '—'),
      h('dt', {}, 'Started'), h('dd', {}, `${ago(j.startMs)} · ran ${duration(j.startMs, j.endMs)}`),
      j.exitCode !== null ? [h('dt', {}, 'Exit code'), h('dd', {}, String(j.exitCode))] : null,
      j.message ? [h('dt', {}, 'Message'), h('dd', { class: 'error' }, j.message)] : null) : null,
    h('h2', {}, 'Logs', j && !['SUCCEEDED', 'FAILED', 'STOPPED'].includes(j.state) ? h('span', { class: 'muted' }, ' (live)') : null),
    pre,
  ];
}

// ---- router and polling ---------------------------------------------------------------------------
function route() {
  const hash = location.hash.replace(/^#\/?/, '') || 'overview';
  const [path, query] = hash.split('?');
  const [page, ...rest] = path.split('/');
  return { page: pages[page] ? page : 'overview', rest: rest.map(decodeURIComponent).join('/'), params: new URLSearchParams(query || '') };
}

async function render(gen) {
  const r = route();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === r.page);
  try {
    const content = await pages[r.page](r.params, r.rest);
    if (gen !== generation) return;
    // Someone typing in a filter keeps their field: this refresh is skipped, the next one comes.
    const typing = document.activeElement && main.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
    if (!typing) main.replaceChildren(...[content].flat(3).filter(Boolean));
    logoutBtn.hidden = false;
    live.className = 'live on';
    live.textContent = `live · ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (gen !== generation) return;
    if (e.status === 401) { showLogin(); return; }
    live.className = 'live off';
    live.textContent = `reconnecting… (${e.message})`;
  }
  if (gen === generation) timer = setTimeout(() => render(gen), POLL_MS);
}

function restart() {
  clearTimeout(timer);
  generation++;
  void render(generation);
}

logoutBtn.addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
  clearTimeout(timer);
  generation++;
  showLogin();
});
window.addEventListener('hashchange', restart);
restart();
