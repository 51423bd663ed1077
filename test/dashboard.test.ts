/**
 * The dashboard on a real CLI cluster (a head and two workers), driven by headless Chromium: log in with
 * the link `rayts dashboard` prints, see the 3 nodes, watch tasks this driver submits appear without a
 * reload, see why an infeasible task waits, follow a job's live logs, and see a library's section.
 * With RAYTS_SCREENSHOTS=1 each page is saved to docs/img/. Also the HTTP security sweep: every route of
 * the route table refuses a request without a session or token; wrong Host, cross-site POST and path
 * traversal are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { actor, get, kill, kv, placementGroup, remote, wait } from '@samsara/ray';
import { DASHBOARD_ROUTES } from '../packages/core/src/dashboard/routes.js';
import { freePort, until, useCliCluster } from './helpers/cli-cluster.js';
import { chromiumPath, launchBrowser } from './helpers/browser.js';

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const ctx = useCliCluster({ numCpus: 1, flags: ['--dashboard-port', String(port)] }, [{ numCpus: 1 }, { numCpus: 1, resources: { camera: 1 } }]);
const SHOTS = process.env.RAYTS_SCREENSHOTS === '1' ? resolve(fileURLToPath(new URL('.', import.meta.url)), '../docs/img') : undefined;

/** A raw HTTP request (no URL normalisation by a client library). */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((res, rej) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body, headers: r.headers }));
    });
    req.on('error', rej);
    req.end();
  });
}

function concrete(path: string): string {
  return path.replace(/:[a-z]+/g, 'x1').replace(/\*$/, 'index.html');
}

describe('dashboard - HTTP security', () => {
  it('dashboard - every non-public route answers 401 without a session or token, and with wrong ones', async () => {
    const guarded = DASHBOARD_ROUTES.filter((r) => r.auth !== 'public');
    expect(guarded.length).toBeGreaterThanOrEqual(10);
    for (const r of guarded) {
      const p = concrete(r.path);
      for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { cookie: 'rayts_session=forged' }, { authorization: `Basic ${ctx.cluster.token}` }]) {
        const res = await raw(p, headers, r.method);
        expect(res.status, `${r.method} ${p} with ${JSON.stringify(headers)}`).toBe(401);
        expect(res.body).not.toMatch(/nodeId|rayts_cluster|headAddress/);
      }
      // The token opens every route (the login-code route only to it).
      const ok = await raw(p, { authorization: `Bearer ${ctx.cluster.token}` }, r.method);
      expect(ok.status, `${r.method} ${p} with the token`).not.toBe(401);
    }
    // The public routes: the login exchange refuses a bad code; static files carry no cluster data.
    expect((await raw('/login?code=nope')).status).toBe(401);
    expect((await raw('/login')).status).toBe(401);
    const index = await raw('/');
    expect(index.status).toBe(200);
    expect(index.body).not.toContain(ctx.cluster.address);
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('dashboard - a wrong Host is refused (DNS rebinding), even with the token', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, 'localhost.evil.example']) {
      const r = await raw('/api/cluster', { host, authorization: `Bearer ${ctx.cluster.token}` });
      expect(r.status, host).toBe(421);
      expect(r.body).not.toContain('nodeId');
    }
    expect((await raw('/api/cluster', { host: `localhost:${port}`, authorization: `Bearer ${ctx.cluster.token}` })).status).toBe(200);
  });

  it('dashboard - a cross-site POST is refused, even with the token', async () => {
    const code = await raw('/api/login-codes', { authorization: `Bearer ${ctx.cluster.token}`, origin: 'https://evil.example' }, 'POST');
    expect(code.status).toBe(403);
    expect(code.body).not.toContain('code');
    const site = await raw('/api/logout', { authorization: `Bearer ${ctx.cluster.token}`, 'sec-fetch-site': 'cross-site' }, 'POST');
    expect(site.status).toBe(403);
    const same = await raw('/api/login-codes', { authorization: `Bearer ${ctx.cluster.token}`, origin: base }, 'POST');
    expect(same.status).toBe(200);
  });

  it('dashboard - nothing is served outside the static root (path traversal is 404)', async () => {
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fpackage.json', '/app.js/../../src/index.ts', '/..%5c..%5cpackage.json', '/dist/index.js', '/%2fetc%2fpasswd', '//etc/passwd', '/index.html%00.js']) {
      const r = await raw(p);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toMatch(/"name"|root:|export /);
    }
  });

  it('dashboard - a login code works once', async () => {
    const out = await ctx.cluster.cli(['dashboard']);
    expect(out.code, out.stderr).toBe(0);
    const link = /(http:\/\/\S+\/login\?code=\S+)/.exec(out.stdout)?.[1];
    expect(link).toBeTruthy();
    const path = new URL(link!).pathname + new URL(link!).search;
    const first = await raw(path);
    expect(first.status).toBe(200);
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(/rayts_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//);
    expect((await raw(path)).status).toBe(401);
    const session = cookie.split(';')[0];
    expect((await raw('/api/me', { cookie: session })).status).toBe(200);
    // Logging out ends the session.
    expect((await raw('/api/logout', { cookie: session, origin: base }, 'POST')).status).toBe(200);
    expect((await raw('/api/me', { cookie: session })).status).toBe(401);
  });
});

const hasChromium = !!chromiumPath();
if (!hasChromium) console.warn('dashboard browser tests skipped: /usr/bin/chromium is not installed (apt-get install chromium, or set RAYTS_CHROMIUM).');

describe.skipIf(!hasChromium)('dashboard - in a browser', () => {
  let page: Page;
  let close: () => Promise<void> = async () => undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'rayts-dash-'));

  beforeAll(async () => {
    const b = await launchBrowser();
    close = b.close;
    page = b.context.pages()[0] ?? (await b.context.newPage());
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `dashboard-${name}.png`), fullPage: true });
  };

  it('dashboard - without a session the page says how to log in', async () => {
    await page.goto(`${base}/`);
    await page.getByText('rayts dashboard', { exact: true }).first().waitFor();
    await expect(page.locator('main').innerText()).resolves.toContain('open the one-time link');
  });

  it('dashboard - logs in with the link and shows the 3 nodes with their resources and telemetry', async () => {
    const out = await ctx.cluster.cli(['dashboard']);
    const link = /(http:\/\/\S+\/login\?code=\S+)/.exec(out.stdout)![1];
    await page.goto(link);
    await page.waitForURL(`${base}/`);
    await page.locator('text=Nodes and edge cameras').waitFor();
    await until(async () => (await page.locator('main table tbody tr').count()) === 3, 'three node rows');
    const text = await page.locator('main').innerText();
    for (const id of ctx.cluster.nodeIds) expect(text).toContain(id.slice(0, 8));
    expect(await page.locator('main table tbody tr .badge.ok').count()).toBe(3);
    expect(text).toMatch(/camera 0 \/ 1/);
    expect(text).toMatch(/CPU 0 \/ 1/);
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'rayts_session')!;
    expect(c.httpOnly).toBe(true);
    expect(c.sameSite).toBe('Strict');
    await shot('overview');
  });

  it('dashboard - tasks submitted by a driver appear without a reload; an infeasible one says why it waits', async () => {
    await page.goto(`${base}/#/tasks`);
    await page.locator('h1:text("Tasks")').waitFor();
    await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 42));
    const dashboardProbe = remote(function dashboardProbe(x: number) {
      return x + 1;
    });
    expect(await get([1, 2, 3].map((x) => dashboardProbe.remote(x)))).toEqual([2, 3, 4]);
    const unicorn = remote(function needsUnicorn() {
      return 1;
    }).options({ resources: { unicorn: 1 } });
    const waiting = unicorn.remote();
    await until(async () => (await page.locator('tr[data-task]:has-text("dashboardProbe")').count()) === 3, 'the 3 tasks in the table', 30_000);
    expect(await page.locator('tr[data-task]:has-text("dashboardProbe") .badge.ok').count()).toBe(3);
    await page.locator('#pending-reasons:has-text("needsUnicorn")').waitFor({ timeout: 30_000 });
    const reason = await page.locator('#pending-reasons').innerText();
    expect(reason).toMatch(/unicorn/);
    expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(42);
    // Filters: by name, and by state.
    await page.goto(`${base}/#/tasks?name=needsUnicorn`);
    await until(async () => (await page.locator('tr[data-task]').count()) === 1, 'the name filter to leave one task');
    await expect(page.locator('tr[data-task]').innerText()).resolves.toContain('PENDING');
    await page.goto(`${base}/#/tasks?state=FINISHED`);
    await until(async () => (await page.locator('tr[data-task] .badge.warn').count()) === 0 && (await page.locator('tr[data-task]').count()) >= 3, 'only finished tasks');
    await page.goto(`${base}/#/tasks`);
    await page.locator('#pending-reasons').waitFor();
    await shot('tasks');
    void waiting;
  });

  it('dashboard - actors, placement groups and the object store', async () => {
    const Camera = actor(class Camera {
      frames = 0;
      grab(): number {
        return ++this.frames;
      }
    });
    const cam = Camera.options({ name: 'front-camera', resources: { camera: 1 } }).remote();
    expect(await get(cam.grab.remote())).toBe(1);
    const doomed = Camera.options({ name: 'doomed' }).remote();
    await get(doomed.grab.remote());
    await kill(doomed);
    const pg = placementGroup([{ CPU: 0.5 }, { CPU: 0.5 }], { strategy: 'SPREAD', name: 'trial-0' });
    await pg.ready();
    await page.goto(`${base}/#/actors`);
    await page.locator('tr:has-text("front-camera")').waitFor();
    await until(async () => (await page.locator('tr:has-text("doomed") .badge.bad').count()) === 1, 'the killed actor to show as DEAD');
    await expect(page.locator('tr:has-text("doomed")').innerText()).resolves.toMatch(/kill/i);
    await shot('actors');
    await page.goto(`${base}/#/placement-groups`);
    await page.locator('td:text("trial-0")').waitFor();
    await expect(page.locator('tr:has-text("trial-0")').innerText()).resolves.toContain('CREATED');
    await shot('placement-groups');
    // An 8 MiB result stays in the store of the node that made it.
    const blob = remote(() => new Uint8Array(8 * 1024 * 1024).fill(1)).options({ numCpus: 0.25 }).remote();
    await wait([blob]);
    await page.goto(`${base}/#/objects`);
    await page.locator('text=Spilled to disk').waitFor();
    expect(await page.locator('main table tbody tr').count()).toBe(3);
    await page.locator('tr:has-text("8.0 MiB /")').waitFor();
    await shot('objects');
  });

  it('dashboard - a job\'s logs are shown and follow the job live', async () => {
    const gate = join(tmp, 'go');
    const script = `console.log('hello from the dashboard job'); const fs = require('node:fs'); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) { console.log('second line after the gate'); clearInterval(t); } }, 50);`;
    const r = await ctx.cluster.cli(['job', 'submit', '--no-wait', '--', 'node', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    const id = /(raysubmit_\w+|\b[0-9a-f]{8,}\b)/.exec(r.stdout)?.[1];
    await page.goto(`${base}/#/jobs`);
    const link = page.locator('main a.mono').first();
    await link.waitFor();
    if (id) expect(await link.innerText()).toContain(id);
    await link.click();
    await page.locator('#job-log:has-text("hello from the dashboard job")').waitFor({ timeout: 30_000 });
    writeFileSync(gate, '');
    await page.locator('#job-log:has-text("second line after the gate")').waitFor({ timeout: 30_000 });
    await page.locator('.badge.ok:text("SUCCEEDED")').waitFor({ timeout: 30_000 });
    await shot('job-logs');
    await page.goto(`${base}/#/jobs`);
    await page.locator('main table').waitFor();
    await shot('jobs');
  });

  it('dashboard - a library section published through KV is shown, as text', async () => {
    const section = {
      title: 'Serve app detector',
      note: 'route /detect on port 8000',
      columns: ['deployment', 'replicas', 'status', 'requests/s'],
      rows: [['Api', 2, 'HEALTHY', 118.5], ['Detector', 4, 'HEALTHY', 117.9], ['<img src=x onerror=alert(1)>', 0, 'UPDATING', null]],
      links: [{ label: 'Open the app', href: 'http://127.0.0.1:8000/detect' }, { label: 'bad', href: 'javascript:alert(1)' }],
    };
    await kv.put('dashboard', 'section/serve/detector', JSON.stringify(section));
    await kv.put('dashboard', 'section/tune/broken', '{not json');
    await page.goto(`${base}/#/serve`);
    await page.locator('h2:text("Serve app detector")').waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('Detector');
    expect(text).toContain('<img src=x onerror=alert(1)>');
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('main a:text("Open the app")').count()).toBe(1);
    expect(await page.locator('main a:text("bad")').count()).toBe(0);
    await shot('serve');
    await page.goto(`${base}/#/tune`);
    await page.locator('text=section/tune/broken is not valid').waitFor();
    // Deleting the key removes the section.
    await kv.del('dashboard', 'section/tune/broken');
    await page.locator('text=No Tune experiment has published a section yet.').waitFor();
  });
});
