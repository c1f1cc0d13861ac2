// The web UI in a real browser: Debian's /usr/bin/chromium (headless) driven by playwright-core,
// against a real `ferry serve` of a copy of examples/quickstart with an admin and a read token.
//
//   FERRY_BIN=build/ferry node tests/ui/ui_test.mjs
//
// Env: FERRY_BIN (the binary), FERRY_SOURCE_DIR (the checkout; default: two levels up),
// UI_SCREENSHOTS (where screenshots go; default $FERRY_BUILD_DIR/ui-screenshots or a temp dir),
// CHROMIUM (default /usr/bin/chromium). Exits 0 when every flow passed, 1 otherwise.
// Never downloads a browser; makes no request outside 127.0.0.1.
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const {chromium} = await import('playwright-core');

const here = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.FERRY_SOURCE_DIR || path.resolve(here, '../..');
const FERRY = process.env.FERRY_BIN || path.join(SOURCE, 'build', 'ferry');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.UI_SCREENSHOTS ||
  path.join(process.env.FERRY_BUILD_DIR || os.tmpdir(), 'ui-screenshots');
const ADMIN = 'ui-admin-7f3a51c2';
const READ = 'ui-read-19c2e8d4';
const TOKEN_ENV = {FERRY_UI_ADMIN: ADMIN, FERRY_UI_READ: READ};
const EXAMPLE_JOBS = ['sales_store_1', 'sales_store_2', 'api_orders_store_1', 'api_orders_store_2',
                      'api_orders_store_3', 'catalog', 'stores', 'products', 'orders'];

// ---- plumbing -------------------------------------------------------------------------------

const started = Date.now();
function log(...args) { console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...args); }
class Failure extends Error {}
function check(cond, message) { if (!cond) throw new Failure(message); }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
async function eventually(pred, message, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { if ((last = await pred())) return last; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Failure(`${message} (not within ${ms / 1000} s${last instanceof Error ? `: ${last.message}` : ''})`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-ui-'));
fs.mkdirSync(OUT, {recursive: true});
let serve = null;
let browser = null;
let base = '';

// The quickstart, without its warehouse and metastore, with tokens from the environment and
// a third store's sales file dropped into the bucket (the store the form adds).
function makeProject() {
  const src = path.join(SOURCE, 'examples', 'quickstart');
  fs.cpSync(src, dir, {recursive: true, filter: (p) => {
    const rel = path.relative(src, p);
    return rel !== 'warehouse.db' && !rel.startsWith('.ferry');
  }});
  fs.appendFileSync(path.join(dir, 'ferry.yml'),
    '\napi: {admin_token: "${FERRY_UI_ADMIN}", read_token: "${FERRY_UI_READ}"}\n');
  fs.writeFileSync(path.join(dir, 'data', 'bucket', 'sales', 'store_3_2026-11-01.csv'),
    'sale_id,sold_at,sku,qty,unit_price\n3001,2026-11-01T09:00:00Z,A-100,1,24.90\n' +
    '3002,2026-11-01T11:30:00Z,B-100,4,12.00\n3003,2026-11-01T15:45:00Z,C-100,2,6.40\n' +
    '3004,2026-11-01T18:10:00Z,A-100,1,24.90\n');
}

// `ferry serve --listen 127.0.0.1:0`; the first stdout line names the port.
async function startServe() {
  const logFd = fs.openSync(path.join(OUT, 'serve.log'), 'w');
  serve = spawn(FERRY, ['-C', dir, 'serve', '--listen', '127.0.0.1:0'],
                {env: {...process.env, ...TOKEN_ENV}, stdio: ['ignore', 'pipe', logFd]});
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    serve.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    serve.on('exit', (code) => reject(new Failure(`ferry serve exited with ${code} before listening`)));
    setTimeout(() => reject(new Failure('ferry serve did not print its address')), 15000);
  });
  const m = /127\.0\.0\.1:(\d+)/.exec(line);
  check(m, `no port in "${line}"`);
  base = `http://127.0.0.1:${m[1]}`;
  log(`ferry serve pid ${serve.pid} at ${base}`);
}

// SIGTERM by PID, SIGKILL after 10 s.
async function stopServe() {
  if (!serve || serve.exitCode !== null || serve.signalCode !== null) return;
  const exited = new Promise((r) => serve.once('exit', r));
  process.kill(serve.pid, 'SIGTERM');
  const timer = setTimeout(() => { try { process.kill(serve.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
  await exited;
  clearTimeout(timer);
}

async function api(method, p, token, body) {
  const headers = {Authorization: `Bearer ${token}`};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + p, {method, headers, body: body === undefined ? (method === 'GET' ? undefined : '') : JSON.stringify(body)});
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return {status: res.status, data, text};
}

function ferryCli(...args) {
  return execFileSync(FERRY, ['-C', dir, ...args], {env: {...process.env, ...TOKEN_ENV}, encoding: 'utf8'});
}

// A browser tab with its own session storage; fails the test on a page error or a request
// that leaves this server.
async function newPage(name) {
  const context = await browser.newContext({viewport: {width: 1440, height: 900}});
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith('data:')) external.push(u);
  });
  return page;
}
const pageErrors = [];
const external = [];

async function shot(page, name) {
  await page.screenshot({path: path.join(OUT, `${name}.png`), fullPage: true});
}

async function login(page, token) {
  await page.goto(`${base}/`);
  await page.locator('#token').fill(token);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#top').waitFor({state: 'visible'});
}

const jobRow = (page, id) => page.locator(`#jobs tbody tr[data-id="${id}"]`);

// ---- the flows ------------------------------------------------------------------------------

const flows = [];
function flow(name, fn) { flows.push([name, fn]); }
let admin; // the admin's tab, shared by the flows in order

flow('the UI assets are served without a token, with no-cache and their content types', async () => {
  for (const [p, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css']]) {
    const res = await fetch(base + p);
    check(res.status === 200, `${p}: ${res.status}`);
    check((res.headers.get('content-type') || '').startsWith(type), `${p}: content type ${res.headers.get('content-type')}`);
    check(res.headers.get('cache-control') === 'no-cache', `${p}: cache-control ${res.headers.get('cache-control')}`);
    const body = await res.text();
    check(!/https?:\/\/(?!127\.0\.0\.1)/.test(body.replace(/http:\/\/www\.w3\.org\/[^"']*/g, '')), `${p} names an external URL`);
  }
  check((await fetch(`${base}/api/jobs`)).status === 401, 'the API answers without a token');
});

flow('log in: a wrong token is refused, the admin token shows the example jobs', async () => {
  admin = await newPage('admin');
  await admin.goto(`${base}/`);
  await admin.locator('#login').waitFor({state: 'visible'});
  await admin.locator('#token').fill('not-a-token');
  await admin.locator('#login-form button[type=submit]').click();
  await admin.locator('#login-error').waitFor({state: 'visible'});
  check((await admin.locator('#login-error').textContent()).includes('not one of'), 'no refusal message');
  await shot(admin, '01-login-refused');
  await admin.locator('#token').fill(ADMIN);
  await admin.locator('#login-form button[type=submit]').click();
  await admin.locator('#jobs tbody tr[data-id]').first().waitFor();
  check((await admin.locator('#role').textContent()) === 'admin', 'role badge is not admin');
  for (const id of EXAMPLE_JOBS) check(await jobRow(admin, id).count() === 1, `job ${id} is not listed`);
  check(await admin.locator('#jobs tbody tr[data-id]').count() === EXAMPLE_JOBS.length, 'more rows than jobs');
  const cells = await jobRow(admin, 'sales_store_1').locator('td').allTextContents();
  check(cells[1] === 'store_sales' && cells[2] === 'file' && cells[3] === 'ods_sales' && cells[4] === 'manual' && cells[5] === 'yes',
        `sales_store_1 row: ${JSON.stringify(cells)}`);
  check(await admin.evaluate(() => sessionStorage.getItem('ferry.token')) === ADMIN, 'the token is not in sessionStorage');
  check(await admin.evaluate(() => localStorage.length) === 0, 'something went to localStorage');
});

flow('the jobs table updates by polling, without a reload, and filters', async () => {
  await admin.evaluate(() => { window.__sameDocument = true; });
  const batch = await api('POST', '/api/batches', ADMIN, {all: true});
  check(batch.status === 202, `batch: ${batch.status} ${batch.text}`);
  await eventually(async () => {
    for (const id of EXAMPLE_JOBS)
      if ((await jobRow(admin, id).getAttribute('data-state')) !== 'succeeded') return false;
    return true;
  }, 'every example job shows succeeded in the table');
  check(await admin.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  const loaded = await jobRow(admin, 'stores').locator('td').nth(9).textContent();
  check(Number(loaded.replace(/,/g, '')) > 0, `rows loaded of stores: "${loaded}"`);
  await admin.locator('#job-search').fill('api_orders');
  await eventually(async () => (await admin.locator('#jobs tbody tr[data-id]').count()) === 3, 'the filter keeps 3 api_orders jobs');
  check((await admin.locator('#job-count').textContent()) === '3 of 9 jobs', 'filter count');
  await admin.locator('#job-search').fill('');
  await shot(admin, '02-jobs');
});

flow('add a store through the form: exactly its params, preview, add, it appears, run now succeeds', async () => {
  await admin.locator('#nav a[data-page=add]').click();
  await admin.locator('#template option[value=store_sales]').waitFor({state: 'attached'});
  const templates = await admin.locator('#template option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  check(JSON.stringify(templates) === '["store_orders","store_sales"]', `templates: ${templates}`);
  await admin.locator('#template').selectOption('store_sales');
  const params = await admin.locator('#params input.param').evaluateAll((is) => is.map((i) => i.name));
  check(JSON.stringify(params) === '["store_id"]', `store_sales asks for ${params}`);
  await admin.locator('#add').click();  // nothing filled in: refused in the page
  check((await admin.locator('#add-error').textContent()).includes('fill in store_id'), 'missing param not reported');
  await admin.locator('#param-store_id').fill('3');
  check((await admin.locator('#job-id').inputValue()) === 'store_sales_3', 'job id not suggested');
  await admin.locator('#job-id').fill('sales_store_3');
  await admin.locator('#preview').click();
  await admin.locator('#plan').waitFor();
  const plan = await admin.locator('#plan').textContent();
  check(plan.includes('ods_sales') && plan.includes('bucket') && plan.includes('store_3_*.csv*'), `plan: ${plan}`);
  check((await api('GET', '/api/jobs/sales_store_3', ADMIN)).status === 404, 'the preview added the job');
  await shot(admin, '03-add-preview');
  await admin.locator('#add').click();
  await admin.waitForURL(/#\/jobs$/);
  await jobRow(admin, 'sales_store_3').waitFor();
  check((await jobRow(admin, 'sales_store_3').getAttribute('class')).includes('new'), 'the new job is not highlighted');
  check((await admin.locator('#toast').textContent()).includes('sales_store_3 added'), 'no confirmation');
  await shot(admin, '04-added');
  await jobRow(admin, 'sales_store_3').locator('a').click();
  await admin.locator('#run-now').click();
  await eventually(async () => (await admin.locator('#runs tbody tr[data-state=succeeded]').count()) === 1,
                   'the run of sales_store_3 shows succeeded', 20000);
  const cells = await admin.locator('#runs tbody tr[data-state=succeeded] td').allTextContents();
  check(cells[7] === '4' && cells[8] === '4' && cells[9] === '0', `rows read/loaded/rejected: ${cells.slice(7, 10)}`);
  check((await admin.locator('#job-resolved').textContent()).includes('store_3_*.csv*'), 'resolved config');
  await shot(admin, '05-job-run-succeeded');
  const runs = await api('GET', '/api/runs?job=sales_store_3', ADMIN);
  check(runs.data.length === 1 && runs.data[0].state === 'succeeded' && runs.data[0].rows_loaded === 4, `API runs: ${runs.text}`);
});

flow('disable and enable a job', async () => {
  await admin.locator('#toggle-enabled').click();
  await eventually(async () => (await admin.locator('#toggle-enabled').textContent()) === 'Enable', 'button turns to Enable');
  check((await api('GET', '/api/jobs/sales_store_3', ADMIN)).data.enabled === false, 'not disabled in the API');
  await admin.locator('#toggle-enabled').click();
  await eventually(async () => (await admin.locator('#toggle-enabled').textContent()) === 'Disable', 'button turns to Disable');
  check((await api('GET', '/api/jobs/sales_store_3', ADMIN)).data.enabled === true, 'not enabled again');
});

flow('a failing job shows its error (job page, jobs table, run page with audit rows)', async () => {
  const added = await api('POST', '/api/jobs', ADMIN, {id: 'broken_feed', spec: {
    source: {connection: 'files', path: 'incoming/missing.csv'}, target: {table: 'ods_broken'}}});
  check(added.status === 201, `add broken_feed: ${added.status} ${added.text}`);
  await admin.goto(`${base}/#/jobs/broken_feed`);
  await admin.locator('#run-now').click();
  await eventually(async () => (await admin.locator('#runs tbody tr[data-state=failed]').count()) === 1, 'the failed run shows');
  const error = await admin.locator('#runs tbody tr[data-state=failed] td.run-error').textContent();
  check(error.includes('missing.csv') && error.includes('does not exist'), `error text: "${error}"`);
  await shot(admin, '06-job-failed');
  await admin.locator('#nav a[data-page=jobs]').click();
  await eventually(async () => (await jobRow(admin, 'broken_feed').getAttribute('data-state')) === 'failed', 'jobs table shows failed');
  check((await jobRow(admin, 'broken_feed').locator('td').nth(6).getAttribute('title')).includes('does not exist'), 'error in the tooltip');
  await jobRow(admin, 'broken_feed').locator('td').nth(3).click();  // the row opens the job
  await admin.waitForURL(/#\/jobs\/broken_feed$/);
  await admin.locator('#runs tbody tr[data-state=failed] td a').first().click();
  await admin.waitForURL(/#\/runs\/\d+$/);
  await admin.locator('#run-audit tbody tr').first().waitFor();
  check((await admin.locator('#run-facts').textContent()).includes('does not exist'), 'run page error');
  check(await admin.locator('#run-audit tbody tr[data-level=error]').count() >= 1, 'no error audit row for the run');
});

flow('runs: batches with one bar per run on a shared time axis', async () => {
  await admin.locator('#nav a[data-page=runs]').click();
  await admin.locator('#batches section.batch').first().waitFor();
  const all = await api('GET', '/api/runs?limit=200', ADMIN);
  const batchOfAll = all.data.find((r) => r.job === 'sales_store_1').batch;
  const section = admin.locator(`#batches section[data-batch="${batchOfAll}"]`);
  const rows = section.locator('.gantt-row');
  const expected = all.data.filter((r) => r.batch === batchOfAll).length;
  check(expected >= 9 && (await rows.count()) === expected, `batch ${batchOfAll}: ${await rows.count()} bars, ${expected} runs`);
  const boxes = await section.locator('.bar').evaluateAll((bs) => bs.map((b) => [b.offsetLeft, b.offsetWidth, b.parentElement.offsetWidth]));
  check(boxes.every(([l, w, t]) => w > 0 && l >= 0 && l + w <= t + 1), `bars out of their track: ${JSON.stringify(boxes)}`);
  check(Math.min(...boxes.map(([l]) => l)) === 0, 'the first run does not start at the left');
  check(/up to \d+ at once/.test(await section.locator('.batch-head').textContent()), 'no concurrency figure');
  await shot(admin, '07-runs');
  await rows.first().locator('a').click();
  await admin.locator('#run-audit tbody tr').first().waitFor();
  check(await admin.locator('#run-audit tbody tr[data-level]').count() > 0, 'no audit rows for the run');
});

flow('audit: filter by job (server), level and event (in the page)', async () => {
  await admin.locator('#nav a[data-page=audit]').click();
  await admin.locator('#audit tbody tr[data-level]').first().waitFor();
  await admin.locator('#audit-level').selectOption('error');
  const levels = await admin.locator('#audit tbody tr[data-level]').evaluateAll((rs) => rs.map((r) => r.dataset.level));
  check(levels.length >= 1 && levels.every((l) => l === 'error'), `levels after the filter: ${levels}`);
  check((await admin.locator('#audit tbody').textContent()).includes('broken_feed'), 'the failed job is not among the errors');
  await admin.locator('#audit-level').selectOption('');
  await admin.locator('#audit-job').fill('sales_store_3');
  await eventually(async () => {
    const jobs = await admin.locator('#audit tbody tr[data-level] td:nth-child(4)').allTextContents();
    return jobs.length > 0 && jobs.every((j) => j === 'sales_store_3');
  }, 'only sales_store_3 events');
  const events = await admin.locator('#audit-event option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  check(events.includes('job_added'), `events: ${events}`);
  await admin.locator('#audit-event').selectOption('job_added');
  const shown = await admin.locator('#audit tbody tr[data-event]').evaluateAll((rs) => rs.map((r) => r.dataset.event));
  check(shown.length === 1 && shown[0] === 'job_added', `event filter: ${shown}`);
  await shot(admin, '08-audit');
  await admin.locator('#audit-event').selectOption('');
  await admin.locator('#audit-job').fill('');
});

flow('a read-only token: write buttons hidden, and the API refuses writes with 403', async () => {
  const reader = await newPage('reader');
  await login(reader, READ);
  check((await reader.locator('#role').textContent()) === 'read-only', 'role badge');
  await jobRow(reader, 'sales_store_1').waitFor();
  check(!(await reader.locator('#nav a[data-page=add]').isVisible()), 'the add link is visible');
  check(await reader.locator('#view a.button.write').count() === 0, 'the add button is on the jobs page');
  await reader.goto(`${base}/#/jobs/sales_store_1`);
  await reader.locator('#runs tbody tr').first().waitFor();
  check(await reader.locator('#run-now').count() === 0 && await reader.locator('#toggle-enabled').count() === 0,
        'run now / enable buttons shown to a reader');
  await shot(reader, '09-read-only-job');
  await reader.goto(`${base}/#/add`);
  await reader.locator('#view h1').waitFor();
  check(await reader.locator('#add-form').count() === 0, 'the add form is shown to a reader');
  await reader.goto(`${base}/#/versions/1`);
  await reader.locator('#version-detail .card').waitFor();
  check(await reader.locator('#rollback').count() === 0, 'rollback shown to a reader');
  for (const [method, p, body] of [['POST', '/api/jobs/sales_store_1/runs'], ['PUT', '/api/jobs/sales_store_1', {enabled: false}],
                                   ['POST', '/api/jobs', {id: 'x', template: 'store_sales', params: {store_id: 9}}],
                                   ['DELETE', '/api/jobs/sales_store_1'], ['POST', '/api/versions/1/rollback']]) {
    const r = await api(method, p, READ, body);
    check(r.status === 403, `${method} ${p} with the read token: ${r.status}`);
  }
  // The same refusal from inside the page (a reader who crafts the call).
  const status = await reader.evaluate(async (t) => (await fetch('/api/jobs/sales_store_1/runs', {method: 'POST', headers: {Authorization: `Bearer ${t}`}, body: ''})).status, READ);
  check(status === 403, `in-page write: ${status}`);
  check((await api('GET', '/api/jobs/sales_store_1', ADMIN)).data.enabled === true, 'a reader changed a job');
  await reader.context().close();
});

flow('versions: two applies, a diff, a cancelled and a confirmed rollback', async () => {
  const yml = path.join(dir, 'ferry.yml');
  const original = fs.readFileSync(yml, 'utf8');
  const v2 = original.replace('jobs:\n', 'jobs:\n  - id: stores_copy\n    source: {connection: files, path: stores.csv}\n    target: {table: ods_stores_copy, mode: replace}\n');
  check(v2 !== original, 'could not change ferry.yml');
  fs.writeFileSync(yml, v2);
  ferryCli('apply', '--note', 'add stores_copy');
  fs.writeFileSync(yml, v2.replace('concurrency: 4', 'concurrency: 3'));
  ferryCli('apply', '--note', 'concurrency 3');
  const before = await api('GET', '/api/versions', ADMIN);
  const versions = before.data.map((v) => v.version).sort((a, b) => a - b);
  check(JSON.stringify(versions) === '[1,2,3]', `versions: ${before.text}`);
  await admin.locator('#nav a[data-page=jobs]').click();
  await jobRow(admin, 'stores_copy').waitFor();  // the applied job shows up without a reload

  await admin.locator('#nav a[data-page=versions]').click();
  await admin.locator('#versions tbody tr[data-version="1"]').click();
  await admin.locator('#diff').waitFor();
  const del = (await admin.locator('#diff .del').allTextContents()).join('');
  const add = (await admin.locator('#diff .add').allTextContents()).join('');
  check(del.includes('stores_copy') && del.includes('"concurrency": 3') && add.includes('"concurrency": 4'), `diff: -${del} +${add}`);
  await shot(admin, '10-versions-diff');
  await admin.locator('#rollback').click();
  await admin.locator('#confirm').waitFor({state: 'visible'});
  check((await admin.locator('#confirm-title').textContent()).includes('version 1'), 'confirmation title');
  await shot(admin, '11-rollback-confirm');
  await admin.locator('#confirm button[value=cancel]').click();
  await sleep(500);
  check((await api('GET', '/api/versions', ADMIN)).data.length === 3, 'cancel rolled back');
  await admin.locator('#rollback').click();
  await admin.locator('#confirm-ok').click();
  await admin.waitForURL(/#\/versions\/4$/);
  const after = await api('GET', '/api/versions', ADMIN);
  const newest = after.data.reduce((a, b) => (a.version > b.version ? a : b));
  check(after.data.length === 4 && newest.version === 4 && newest.note.includes('rollback to 1'), `after rollback: ${after.text}`);
  await admin.locator('#versions tbody tr[data-version="4"] .badge').waitFor();
  const v4 = await api('GET', '/api/versions/4', ADMIN);
  const v1 = await api('GET', '/api/versions/1', ADMIN);
  check(JSON.stringify(v4.data.project) === JSON.stringify(v1.data.project), 'version 4 is not version 1');
  await eventually(async () => !(await api('GET', '/api/jobs', ADMIN)).data.some((j) => j.id === 'stores_copy'), 'stores_copy removed');
  await admin.locator('#nav a[data-page=jobs]').click();
  await eventually(async () => (await jobRow(admin, 'stores_copy').count()) === 0 && (await jobRow(admin, 'sales_store_1').count()) === 1,
                   'the jobs table drops stores_copy');
  await shot(admin, '12-after-rollback');
  // The Jobs page for the README: the example jobs, the store added above, the failed one.
  await admin.evaluate(() => { document.querySelector('#toast').hidden = true; });
  await admin.locator('body').screenshot({path: path.join(OUT, 'jobs.png')});
});

flow('5,000 jobs: 100 rows at a time, filtering and paging stay fast', async () => {
  const page = await newPage('big');
  const jobs = Array.from({length: 5000}, (_, i) => ({
    id: `sales_store_${i}`, template: 'store_sales', params: {store_id: i}, enabled: i % 7 !== 0, priority: 0,
    source_kind: 'file', source_connection: 'bucket', table: 'ods_sales', schedule: i % 2 ? '0 2 * * *' : '', every: i % 2 ? '' : '15m',
    on: '', queued: false, running: i % 500 === 0, next_run: '2026-11-26T02:00:00Z',
    last_run: i % 3 ? {id: i, job: `sales_store_${i}`, batch: 'b1', state: i % 10 ? 'succeeded' : 'failed', attempt: 1,
                       started_at: '2026-11-25T02:00:00.000Z', finished_at: '2026-11-25T02:00:01.500Z', rows_read: i, rows_loaded: i,
                       rows_rejected: 0, error: i % 10 ? '' : 'boom'} : null}));
  const body = JSON.stringify(jobs);
  await page.route(/\/api\/jobs$/, (route) => route.fulfill({status: 200, contentType: 'application/json', body}));
  await login(page, ADMIN);
  await page.locator('#job-count').filter({hasText: '5000 jobs'}).waitFor();
  check(await page.locator('#jobs tbody tr[data-id]').count() === 100, 'not 100 rows per page');
  check((await page.locator('.pager').textContent()).includes('page 1 of 50'), 'pager');
  const ms = await page.evaluate(async () => {
    const input = document.querySelector('#job-search');
    const t0 = performance.now();
    input.value = 'sales_store_4999';
    input.dispatchEvent(new Event('input'));
    const t1 = performance.now();
    input.value = '';
    input.dispatchEvent(new Event('input'));
    return [t1 - t0, performance.now() - t1];
  });
  log(`  filter 5,000 jobs: ${ms[0].toFixed(1)} ms, clear: ${ms[1].toFixed(1)} ms`);
  check(ms[0] < 500 && ms[1] < 500, `filtering took ${ms} ms`);
  await page.locator('#job-search').fill('sales_store_4999');
  check(await page.locator('#jobs tbody tr[data-id]').count() === 1, 'search over all pages');
  await page.locator('#job-search').fill('');
  await page.locator('.pager button', {hasText: 'Next'}).click();
  check((await page.locator('.pager').textContent()).includes('page 2 of 50'), 'next page');
  await sleep(2500);  // a poll in between keeps the page
  check((await page.locator('.pager').textContent()).includes('page 2 of 50'), 'polling reset the page');
  const frame = await page.evaluate(() => new Promise((resolve) => {
    const t0 = performance.now();
    requestAnimationFrame(() => resolve(performance.now() - t0));
  }));
  check(frame < 1000, `a frame took ${frame} ms`);
  await shot(page, '13-five-thousand-jobs');
  await page.context().close();
});

// ---- run ------------------------------------------------------------------------------------

const deadline = setTimeout(async () => {
  console.error('FAIL: the UI test took longer than 240 s');
  await cleanup();
  process.exit(1);
}, 240000);
deadline.unref();

async function cleanup() {
  try { if (browser) await browser.close(); } catch { /* closing */ }
  await stopServe();
  fs.rmSync(dir, {recursive: true, force: true});
}

let failed = 0;
try {
  check(fs.existsSync(FERRY), `no ferry binary at ${FERRY} (set FERRY_BIN)`);
  check(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM}`);
  makeProject();
  await startServe();
  browser = await chromium.launch({executablePath: CHROMIUM, headless: true,
                                   args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking']});
  for (const [name, fn] of flows) {
    const t0 = Date.now();
    try {
      await fn();
      log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      log(`FAIL ${name}: ${e instanceof Failure ? e.message : e.stack}`);
      if (admin) await shot(admin, `failure-${failed}`).catch(() => {});
      break;  // later flows build on earlier ones
    }
  }
  if (pageErrors.length) { failed++; log(`FAIL errors in the page:\n  ${pageErrors.join('\n  ')}`); }
  if (!failed && external.length) { failed++; log(`FAIL requests outside this server: ${external.join(', ')}`); }
} catch (e) {
  failed++;
  log(`FAIL ${e instanceof Failure ? e.message : e.stack}`);
} finally {
  await cleanup();
}
if (failed) {
  const serveLog = path.join(OUT, 'serve.log');
  if (fs.existsSync(serveLog)) console.log(`--- serve.log (last lines) ---\n${fs.readFileSync(serveLog, 'utf8').split('\n').slice(-30).join('\n')}`);
}
log(failed ? 'FAILED' : `passed; screenshots in ${OUT}`);
process.exit(failed ? 1 : 0);
