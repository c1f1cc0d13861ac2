// The web UI of `ferry serve`: plain JavaScript, no framework, no build step, nothing loaded
// from elsewhere. It talks to this server's /api/* with the token the user logged in with
// (kept in sessionStorage: this tab only). Pages are hash routes; the visible page polls
// every 2 s and re-renders only when the data changed.
'use strict';

(() => {
  const POLL_MS = 2000;
  const PAGE_SIZE = 100;
  const TOKEN_KEY = 'ferry.token';

  // ---- small helpers ----------------------------------------------------------------------

  // h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child, [more]) -> an element. Text is
  // always a text node, never HTML.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected') el[k] = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of [children].flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const $ = (sel, root = document) => root.querySelector(sel);

  function pad(n, w = 2) { return String(n).padStart(w, '0'); }
  function parseTime(iso) {
    if (!iso) return NaN;
    return Date.parse(iso);
  }
  // Local time, to the second; the ISO text (UTC) in the tooltip.
  function fmtTime(iso) {
    const t = parseTime(iso);
    if (Number.isNaN(t)) return '';
    const d = new Date(t);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function timeCell(iso) {
    return iso ? h('time', {datetime: iso, title: iso}, fmtTime(iso)) : h('span', {class: 'muted'}, '—');
  }
  function fmtDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '';
    if (ms < 1000) return `${(ms / 1000).toFixed(2)} s`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    const s = Math.round(ms / 1000);
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  }
  function runDuration(r) {
    const start = parseTime(r.started_at);
    if (Number.isNaN(start)) return NaN;
    const end = r.finished_at ? parseTime(r.finished_at) : Date.now();
    return end - start;
  }
  function fmtNumber(n) {
    return n === undefined || n === null ? '' : Number(n).toLocaleString('en-US');
  }
  function stateBadge(state) {
    return h('span', {class: `badge state-${state || 'none'}`}, state || 'never run');
  }
  function triggerText(j) {
    if (j.schedule) return `schedule ${j.schedule}`;
    if (j.every) return `every ${j.every}`;
    if (j.on) return `on ${j.on}`;
    return 'manual';
  }
  // The state a job shows: running / queued now, else its last run's.
  function jobState(j) {
    if (j.running) return 'running';
    if (j.queued) return 'queued';
    return j.last_run ? j.last_run.state : '';
  }
  // JSON with object keys sorted, so two versions diff line by line.
  function stableJson(value) {
    const sort = (v) => {
      if (Array.isArray(v)) return v.map(sort);
      if (v && typeof v === 'object') {
        const out = {};
        for (const k of Object.keys(v).sort()) out[k] = sort(v[k]);
        return out;
      }
      return v;
    };
    return JSON.stringify(sort(value), null, 2);
  }
  function link(href, text) { return h('a', {href}, text); }
  // A job's page; transforms (run as `transform:ID`) have none.
  function jobLink(id) {
    if (!id) return '';
    return id.startsWith('transform:') ? h('span', {class: 'mono'}, id) : link(`#/jobs/${encodeURIComponent(id)}`, id);
  }
  function runLink(id) { return id ? link(`#/runs/${id}`, `#${id}`) : ''; }

  // ---- the API ------------------------------------------------------------------------------

  const session = {token: sessionStorage.getItem(TOKEN_KEY) || '', role: '', project: ''};
  const canWrite = () => session.role === 'admin' || session.role === 'open';

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = {};
    if (session.token) headers.Authorization = `Bearer ${session.token}`;
    const init = {method, headers, cache: 'no-store'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (method !== 'GET') {
      init.body = '';
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      showBanner(`Cannot reach ferry serve (${e.message}); retrying.`);
      throw new ApiError(0, 'cannot reach ferry serve');
    }
    hideBanner();
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (res.status === 401 && path !== '/api/me') {
      logout('The server refused the token; log in again.');
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || `HTTP ${res.status}`);
    return {data, text};
  }

  // ---- chrome: banner, toast, confirmation --------------------------------------------------

  function showBanner(text) { const b = $('#banner'); b.textContent = text; b.hidden = false; }
  function hideBanner() { $('#banner').hidden = true; }

  let toastTimer = 0;
  function toast(text, kind = 'ok') {
    const t = $('#toast');
    t.textContent = text;
    t.className = `toast ${kind}`;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 8000 : 4000);
  }

  // Resolves true when the user confirms.
  function confirmDialog(title, text, okLabel) {
    const dlg = $('#confirm');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel;
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), {once: true});
      dlg.showModal();
    });
  }

  // ---- pages --------------------------------------------------------------------------------
  // A page is mount(view, args) -> {refresh(): Promise, poll: bool}. refresh() is called once
  // and then every POLL_MS while `poll` and the tab is visible.

  // Jobs: every job, filtered, sorted and shown PAGE_SIZE rows at a time.
  const jobsView = {q: '', state: '', page: 0, sort: 'id', desc: false, focus: ''};
  const collator = new Intl.Collator('en', {numeric: true});
  const JOB_COLUMNS = [
    ['id', 'Job', (j) => j.id],
    ['template', 'Template', (j) => j.template || ''],
    ['source_kind', 'Source', (j) => j.source_kind || ''],
    ['table', 'Target table', (j) => j.table || ''],
    ['trigger', 'Trigger', (j) => triggerText(j)],
    ['enabled', 'Enabled', (j) => (j.enabled ? 1 : 0)],
    ['state', 'Last run', (j) => jobState(j)],
    ['last_time', 'When', (j) => (j.last_run && (j.last_run.finished_at || j.last_run.started_at)) || ''],
    ['next_run', 'Next run', (j) => j.next_run || ''],
    ['rows', 'Rows loaded', (j) => (j.last_run ? j.last_run.rows_loaded : -1)],
  ];

  function jobsPage(view) {
    const focus = jobsView.focus;  // a job just added: highlighted, and its page shown once
    jobsView.focus = '';
    let focusShown = false;
    let jobs = [];
    let haystacks = [];
    let lastText = '';
    const search = h('input', {type: 'search', id: 'job-search', placeholder: 'Filter jobs…', title: 'Words to find in the id, template, params, table, source, trigger or state',
                               value: jobsView.q, 'aria-label': 'Filter jobs'});
    const stateSel = h('select', {id: 'job-state', 'aria-label': 'Last run state'},
      [['', 'any state'], ['succeeded', 'succeeded'], ['failed', 'failed'], ['running', 'running'],
       ['queued', 'queued'], ['never', 'never run'], ['disabled', 'disabled'], ['error', 'config error']]
        .map(([v, t]) => h('option', {value: v, selected: jobsView.state === v}, t)));
    const count = h('span', {class: 'muted', id: 'job-count'});
    const pager = h('span', {class: 'pager'});
    const updated = h('span', {class: 'muted small', id: 'updated'});
    const head = h('tr', {}, JOB_COLUMNS.map(([key, label]) =>
      h('th', {dataset: {key}, class: 'sortable', onclick: () => {
        if (jobsView.sort === key) jobsView.desc = !jobsView.desc;
        else { jobsView.sort = key; jobsView.desc = false; }
        render();
      }}, label)));
    const body = h('tbody');
    const table = h('table', {class: 'grid', id: 'jobs'}, h('thead', {}, head), body);

    search.addEventListener('input', () => { jobsView.q = search.value; jobsView.page = 0; render(); });
    stateSel.addEventListener('change', () => { jobsView.state = stateSel.value; jobsView.page = 0; render(); });
    body.addEventListener('click', (e) => {
      if (e.target.closest('a')) return;
      const tr = e.target.closest('tr[data-id]');
      if (tr) location.hash = `#/jobs/${encodeURIComponent(tr.dataset.id)}`;
    });

    append(view, [
      h('div', {class: 'title'}, h('h1', {}, 'Jobs'), canWrite() ? h('a', {href: '#/add', class: 'button primary write'}, 'Add a data store') : null),
      h('div', {class: 'toolbar'}, search, stateSel, count, h('span', {class: 'spacer'}), updated, pager),
      h('div', {class: 'scroll'}, table),
    ]);

    function matchesState(j) {
      switch (jobsView.state) {
        case '': return true;
        case 'never': return !j.last_run && !j.running && !j.queued;
        case 'disabled': return !j.enabled;
        case 'error': return !!j.error;
        default: return jobState(j) === jobsView.state;
      }
    }

    function render() {
      const terms = jobsView.q.toLowerCase().split(/\s+/).filter(Boolean);
      let rows = [];
      for (let i = 0; i < jobs.length; i++) {
        const hay = haystacks[i];
        if (terms.every((t) => hay.includes(t)) && matchesState(jobs[i])) rows.push(jobs[i]);
      }
      const col = JOB_COLUMNS.find((c) => c[0] === jobsView.sort) || JOB_COLUMNS[0];
      const key = col[2];
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
        return jobsView.desc ? -c : c;
      });
      const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
      if (focus && !focusShown) {
        const at = rows.findIndex((j) => j.id === focus);
        if (at >= 0) {
          jobsView.page = Math.floor(at / PAGE_SIZE);
          focusShown = true;
        }
      }
      jobsView.page = Math.min(jobsView.page, pages - 1);
      const shown = rows.slice(jobsView.page * PAGE_SIZE, (jobsView.page + 1) * PAGE_SIZE);

      for (const th of head.children) {
        th.classList.toggle('sorted', th.dataset.key === jobsView.sort);
        th.classList.toggle('desc', th.dataset.key === jobsView.sort && jobsView.desc);
      }
      body.replaceChildren(...shown.map(jobRow));
      if (!shown.length) {
        body.append(h('tr', {}, h('td', {colspan: JOB_COLUMNS.length, class: 'empty'},
          jobs.length ? 'No job matches the filter.' : 'No jobs yet.')));
      }
      count.textContent = rows.length === jobs.length ? `${jobs.length} jobs` : `${rows.length} of ${jobs.length} jobs`;
      pager.replaceChildren(
        h('button', {type: 'button', disabled: jobsView.page === 0, onclick: () => { jobsView.page--; render(); }}, '‹ Prev'),
        h('span', {class: 'muted'}, ` page ${jobsView.page + 1} of ${pages} `),
        h('button', {type: 'button', disabled: jobsView.page >= pages - 1, onclick: () => { jobsView.page++; render(); }}, 'Next ›'));
    }

    function jobRow(j) {
      const last = j.last_run;
      const state = jobState(j);
      return h('tr', {dataset: {id: j.id, state: state || 'none'},
                      class: [j.enabled ? '' : 'disabled', j.id === focus ? 'new' : ''].join(' ').trim() || null},
        h('td', {}, jobLink(j.id)),
        h('td', {}, j.template || h('span', {class: 'muted'}, '—'), j.error ? h('span', {class: 'badge state-failed', title: j.error}, 'config error') : null),
        h('td', {}, j.source_kind || ''),
        h('td', {}, j.table || ''),
        h('td', {}, triggerText(j)),
        h('td', {}, j.enabled ? 'yes' : h('span', {class: 'badge state-disabled'}, 'no')),
        h('td', {title: last && last.error ? last.error : null}, stateBadge(state)),
        h('td', {}, timeCell(last && (last.finished_at || last.started_at))),
        h('td', {}, timeCell(j.next_run)),
        h('td', {class: 'num'}, last ? fmtNumber(last.rows_loaded) : ''));
    }

    return {
      poll: true,
      async refresh() {
        const {data, text} = await api('GET', '/api/jobs');
        updated.textContent = `updated ${fmtTime(new Date().toISOString())}`;
        if (text === lastText) return;
        lastText = text;
        jobs = data || [];
        haystacks = jobs.map((j) => [j.id, j.template, j.source_kind, j.table, triggerText(j), jobState(j) || 'never run',
                                     j.enabled ? '' : 'disabled', JSON.stringify(j.params || {})].join(' ').toLowerCase());
        render();
      },
    };
  }

  // One job: what it resolves to, its runs, run now and enable/disable.
  function jobPage(view, [id]) {
    let job = null;
    let lastText = '';
    const title = h('h1', {}, id);
    const buttons = h('div', {class: 'buttons'});
    const summary = h('div', {class: 'card', id: 'job-summary'});
    const resolved = h('pre', {class: 'code', id: 'job-resolved'});
    const runsBody = h('tbody');
    append(view, [
      h('p', {class: 'crumbs'}, link('#/jobs', '‹ Jobs')),
      h('div', {class: 'title'}, title, buttons),
      summary,
      h('h2', {}, 'Runs'),
      h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'runs'},
        h('thead', {}, h('tr', {}, ['Run', 'Batch', 'State', 'Attempt', 'Queued', 'Started', 'Duration', 'Read', 'Loaded', 'Rejected', 'Error'].map((t) => h('th', {}, t)))),
        runsBody)),
      h('h2', {}, 'Resolved configuration ', h('span', {class: 'muted small'}, '(secrets stay ${NAME})')),
      resolved,
    ]);

    const runNow = h('button', {type: 'button', class: 'primary write', id: 'run-now', onclick: async () => {
      runNow.disabled = true;
      try {
        const {data} = await api('POST', `/api/jobs/${encodeURIComponent(id)}/runs`);
        toast(`Run #${data.run} of ${id} queued.`);
        await page.refresh();
      } catch (e) {
        toast(`Run now: ${e.message}`, 'error');
      } finally {
        runNow.disabled = false;
      }
    }}, 'Run now');
    const toggle = h('button', {type: 'button', class: 'write', id: 'toggle-enabled', onclick: async () => {
      if (!job) return;
      toggle.disabled = true;
      try {
        await api('PUT', `/api/jobs/${encodeURIComponent(id)}`, {enabled: !job.enabled});
        toast(`${id} ${job.enabled ? 'disabled' : 'enabled'}.`);
        await page.refresh();
      } catch (e) {
        toast(`${e.message}`, 'error');
      } finally {
        toggle.disabled = false;
      }
    }}, 'Disable');
    if (canWrite()) buttons.append(runNow, toggle);

    function render() {
      toggle.textContent = job.enabled ? 'Disable' : 'Enable';
      title.replaceChildren();
      append(title, [id, ' ', job.enabled ? null : h('span', {class: 'badge state-disabled'}, 'disabled'),
                     job.running ? stateBadge('running') : job.queued ? stateBadge('queued') : null]);
      const rows = [
        ['Template', job.template ? [job.template, ' ', h('code', {}, JSON.stringify(job.params || {}))] : '— (a job of its own)'],
        ['Source', [job.source_kind || '', job.source_connection ? ` from connection ${job.source_connection}` : '']],
        ['Target table', job.table || ''],
        ['Trigger', triggerText(job)],
        ['Next run', timeCell(job.next_run)],
        ['Priority', String(job.priority ?? 0)],
      ];
      if (job.error) rows.push(['Config error', h('span', {class: 'error'}, job.error)]);
      summary.replaceChildren(h('dl', {class: 'facts'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
      resolved.textContent = job.resolved ? JSON.stringify(job.resolved, null, 2) : '(cannot be resolved; see the config error)';
      runsBody.replaceChildren(...(job.runs || []).map((r) => h('tr', {dataset: {run: r.id, state: r.state}},
        h('td', {}, runLink(r.id)),
        h('td', {class: 'mono small'}, r.batch || ''),
        h('td', {}, stateBadge(r.state)),
        h('td', {class: 'num'}, r.attempt),
        h('td', {}, timeCell(r.queued_at)),
        h('td', {}, timeCell(r.started_at)),
        h('td', {class: 'num'}, fmtDuration(runDuration(r))),
        h('td', {class: 'num'}, fmtNumber(r.rows_read)),
        h('td', {class: 'num'}, fmtNumber(r.rows_loaded)),
        h('td', {class: 'num'}, fmtNumber(r.rows_rejected)),
        h('td', {class: 'error run-error'}, r.error || ''))));
      if (!(job.runs || []).length) runsBody.append(h('tr', {}, h('td', {colspan: 11, class: 'empty'}, 'No runs yet.')));
    }

    const page = {
      poll: true,
      async refresh() {
        try {
          const {data, text} = await api('GET', `/api/jobs/${encodeURIComponent(id)}`);
          if (text === lastText) return;
          lastText = text;
          job = data;
          render();
        } catch (e) {
          if (e.status !== 404) throw e;
          summary.replaceChildren(h('p', {class: 'error'}, e.message));
          buttons.replaceChildren();
        }
      },
    };
    return page;
  }

  // Add a data store: a template, exactly its params, a preview of the plan, then the job.
  function addPage(view) {
    append(view, h('h1', {}, 'Add a data store'));
    if (!canWrite()) {
      view.append(h('p', {class: 'muted'}, 'Your token may only read; adding a job needs the admin token.'));
      return {poll: false, async refresh() {}};
    }
    let templates = [];
    let idEdited = false;
    const tmplSel = h('select', {id: 'template', name: 'template', required: true});
    const description = h('p', {class: 'muted', id: 'template-description'});
    const params = h('div', {id: 'params', class: 'fields'});
    const jobId = h('input', {id: 'job-id', name: 'id', required: true, pattern: '[A-Za-z0-9_.\\-]+',
                              placeholder: 'e.g. sales_store_7', autocomplete: 'off'});
    const enabled = h('input', {id: 'job-enabled', type: 'checkbox', checked: true});
    const result = h('div', {id: 'add-result'});
    const preview = h('button', {type: 'button', id: 'preview'}, 'Preview');
    const add = h('button', {type: 'submit', id: 'add', class: 'primary'}, 'Add');
    const form = h('form', {class: 'card', id: 'add-form', novalidate: true},
      h('div', {class: 'fields'},
        h('label', {for: 'template'}, 'Template'), tmplSel),
      description,
      params,
      h('div', {class: 'fields'},
        h('label', {for: 'job-id'}, 'Job id'), jobId,
        h('label', {for: 'job-enabled'}, 'Enabled'), h('span', {}, enabled, ' runs on its trigger')),
      h('div', {class: 'buttons'}, preview, add),
      result);
    view.append(h('p', {class: 'muted'}, 'A new store, region or feed is one row of the config table: ',
                  'pick the template it follows and fill in its parameters.'), form);

    // A preview describes the form as it was: any change drops it.
    jobId.addEventListener('input', () => { idEdited = jobId.value !== ''; result.replaceChildren(); });
    tmplSel.addEventListener('change', () => { showParams(); result.replaceChildren(); });
    params.addEventListener('input', () => { suggestId(); result.replaceChildren(); });

    function current() { return templates.find((t) => t.name === tmplSel.value); }
    function showParams() {
      const t = current();
      description.textContent = t ? (t.description || '') : '';
      params.replaceChildren(...(t ? t.params : []).flatMap((p) => {
        const required = p.default === null || p.default === undefined;
        return [h('label', {for: `param-${p.name}`}, p.name, required ? h('span', {class: 'required', title: 'required'}, ' *') : ''),
                h('input', {id: `param-${p.name}`, name: p.name, class: 'param', required,
                            value: required ? '' : (typeof p.default === 'string' ? p.default : JSON.stringify(p.default)),
                            placeholder: required ? 'required' : '', autocomplete: 'off'})];
      }));
      suggestId();
    }
    function suggestId() {
      if (idEdited) return;
      const t = current();
      if (!t) return;
      const values = [...params.querySelectorAll('input.param')].filter((i) => i.required).map((i) => i.value.trim()).filter(Boolean);
      jobId.value = values.length ? `${t.name}_${values.join('_')}`.replace(/[^A-Za-z0-9_.-]/g, '_') : '';
    }
    // As `ferry jobs add --param k=v`: a number or a boolean when the text is one.
    function paramValue(text) {
      try {
        const v = JSON.parse(text);
        if (typeof v === 'number' || typeof v === 'boolean') return v;
      } catch { /* text */ }
      return text;
    }
    // The request body, or null after showing what is missing.
    function body() {
      const problems = [];
      const t = current();
      if (!t) problems.push('choose a template');
      const values = {};
      for (const input of params.querySelectorAll('input.param')) {
        const v = input.value.trim();
        input.classList.toggle('invalid', input.required && !v);
        if (input.required && !v) problems.push(`fill in ${input.name}`);
        if (v) values[input.name] = paramValue(v);
      }
      const id = jobId.value.trim();
      const idOk = /^[A-Za-z0-9_.-]+$/.test(id);
      jobId.classList.toggle('invalid', !idOk);
      if (!id) problems.push('give the job an id');
      else if (!idOk) problems.push('the job id may hold letters, digits, _ . - only');
      if (problems.length) {
        result.replaceChildren(h('p', {class: 'error', id: 'add-error'}, `Please ${problems.join(', ')}.`));
        return null;
      }
      return {id, template: t.name, params: values, enabled: enabled.checked};
    }

    preview.addEventListener('click', async () => {
      const b = body();
      if (!b) return;
      try {
        const {data} = await api('POST', '/api/jobs?dry_run=1', b);
        const p = data.plan || {};
        const rows = [
          ['Job', b.id], ['Target table', p.table], ['Write mode', p.mode], ['Source kind', p.source_kind],
          ['Source connection', p.source_connection], ['Target connection', p.target_connection],
          ['Trigger', p.schedule ? `schedule ${p.schedule}` : p.every ? `every ${p.every}` : 'manual (run now, a batch or an event)'],
        ].filter(([, v]) => v !== undefined && v !== null && v !== '');
        result.replaceChildren(h('div', {class: 'plan', id: 'plan'},
          h('h3', {}, 'Plan: what adding it would do'),
          h('dl', {class: 'facts'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
          p.source ? [h('p', {class: 'muted'}, 'Source options, resolved:'), h('pre', {class: 'code'}, JSON.stringify(p.source, null, 2))] : null));
      } catch (e) {
        result.replaceChildren(h('p', {class: 'error', id: 'add-error'}, e.message));
      }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const b = body();
      if (!b) return;
      add.disabled = true;
      try {
        await api('POST', '/api/jobs', b);
        toast(`Job ${b.id} added.`);
        jobsView.q = '';
        jobsView.state = '';
        jobsView.focus = b.id;
        location.hash = '#/jobs';
      } catch (err) {
        result.replaceChildren(h('p', {class: 'error', id: 'add-error'}, err.message));
      } finally {
        add.disabled = false;
      }
    });

    return {
      poll: false,
      async refresh() {
        const {data} = await api('GET', '/api/templates');
        templates = (data || []).slice().sort((a, b) => a.name.localeCompare(b.name));
        tmplSel.replaceChildren(h('option', {value: ''}, templates.length ? 'choose a template…' : 'this project has no templates'),
          ...templates.map((t) => h('option', {value: t.name}, t.name)));
        if (templates.length === 1) tmplSel.value = templates[0].name;
        showParams();
      },
    };
  }

  // Runs grouped by batch, each with a bar from started_at to finished_at on the batch's time
  // axis: runs that overlap ran at the same time.
  const runsView = {limit: 200};
  function runsPage(view) {
    let lastText = '';
    const limitSel = h('select', {id: 'runs-limit', 'aria-label': 'How many runs'},
      [100, 200, 500, 1000].map((n) => h('option', {value: n, selected: n === runsView.limit}, `last ${n} runs`)));
    const batches = h('div', {id: 'batches'});
    limitSel.addEventListener('change', () => { runsView.limit = Number(limitSel.value); lastText = ''; page.refresh().catch(() => {}); });
    append(view, [h('h1', {}, 'Runs'), h('div', {class: 'toolbar'}, limitSel, h('span', {class: 'muted'}, 'newest batch first; bars show when each run ran within its batch')), batches]);

    function render(runs) {
      const groups = new Map();
      for (const r of runs) {
        const key = r.batch || `(run ${r.id})`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(r);
      }
      const now = Date.now();
      const out = [];
      for (const [batch, rs] of groups) {
        rs.sort((a, b) => (parseTime(a.started_at) || Infinity) - (parseTime(b.started_at) || Infinity) || a.id - b.id);
        const starts = rs.map((r) => parseTime(r.started_at)).filter((t) => !Number.isNaN(t));
        const ends = rs.map((r) => (r.finished_at ? parseTime(r.finished_at) : r.started_at ? now : NaN)).filter((t) => !Number.isNaN(t));
        const t0 = starts.length ? Math.min(...starts) : NaN;
        const t1 = ends.length ? Math.max(...ends) : NaN;
        const span = Math.max(t1 - t0, 1);
        const counts = {};
        for (const r of rs) counts[r.state] = (counts[r.state] || 0) + 1;
        // The most runs at one instant.
        const edges = [];
        for (const r of rs) {
          const s = parseTime(r.started_at);
          if (Number.isNaN(s)) continue;
          edges.push([s, 1], [r.finished_at ? parseTime(r.finished_at) : now, -1]);
        }
        edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        let at = 0, most = 0;
        for (const [, d] of edges) most = Math.max(most, at += d);

        out.push(h('section', {class: 'batch card', dataset: {batch}},
          h('div', {class: 'batch-head'},
            h('strong', {class: 'mono'}, batch), ' ',
            Number.isNaN(t0) ? h('span', {class: 'muted'}, 'not started') : h('span', {class: 'muted'}, `${fmtTime(new Date(t0).toISOString())} · ${fmtDuration(t1 - t0)}`),
            ' ', h('span', {class: 'muted'}, `· ${rs.length} run${rs.length === 1 ? '' : 's'}, up to ${most} at once `),
            Object.entries(counts).map(([s, n]) => [stateBadge(`${s}`), n > 1 ? ` ×${n} ` : ' '])),
          h('div', {class: 'gantt'}, rs.map((r) => {
            const s = parseTime(r.started_at);
            const e = r.finished_at ? parseTime(r.finished_at) : now;
            const bar = h('div', {class: `bar state-${r.state}`, title: `${r.job} #${r.id}: ${r.state}, ${fmtDuration(runDuration(r))}`});
            if (Number.isNaN(s)) {
              bar.classList.add('pending');
            } else {
              bar.style.left = `${((s - t0) / span) * 100}%`;
              bar.style.width = `${Math.max(((e - s) / span) * 100, 0.5)}%`;
            }
            return h('div', {class: 'gantt-row', dataset: {run: r.id, job: r.job, state: r.state}},
              h('a', {class: 'gantt-label', href: `#/runs/${r.id}`}, `#${r.id} ${r.job}`),
              h('div', {class: 'track'}, bar),
              h('span', {class: 'gantt-info'}, stateBadge(r.state), ' ', fmtDuration(runDuration(r)),
                r.state === 'succeeded' || r.rows_loaded ? ` · ${fmtNumber(r.rows_loaded)} rows` : ''));
          }))));
      }
      batches.replaceChildren(...out);
      if (!out.length) batches.append(h('p', {class: 'empty'}, 'No runs yet.'));
    }

    const page = {
      poll: true,
      async refresh() {
        const {data, text} = await api('GET', `/api/runs?limit=${runsView.limit}`);
        const running = (data || []).some((r) => r.state === 'running');
        if (text === lastText && !running) return;  // running bars grow with the clock
        lastText = text;
        render(data || []);
      },
    };
    return page;
  }

  // One run and its audit rows.
  function runPage(view, [id]) {
    let lastText = '';
    const facts = h('div', {class: 'card', id: 'run-facts'});
    const auditBody = h('tbody');
    append(view, [
      h('p', {class: 'crumbs'}, link('#/runs', '‹ Runs')),
      h('h1', {}, `Run #${id}`),
      facts,
      h('h2', {}, 'Audit'),
      h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'run-audit'}, auditHead(), auditBody)),
    ]);
    const page = {
      poll: true,
      async refresh() {
        let r, text;
        try {
          ({data: r, text} = await api('GET', `/api/runs/${id}`));
        } catch (e) {
          if (e.status !== 404) throw e;
          facts.replaceChildren(h('p', {class: 'error'}, e.message));
          page.poll = false;
          return;
        }
        if (text === lastText) return;
        lastText = text;
        const rows = [
          ['Job', jobLink(r.job)], ['State', stateBadge(r.state)], ['Batch', r.batch], ['Attempt', r.attempt],
          ['Queued', timeCell(r.queued_at)], ['Started', timeCell(r.started_at)], ['Finished', timeCell(r.finished_at)],
          ['Duration', fmtDuration(runDuration(r))], ['Rows read', fmtNumber(r.rows_read)],
          ['Rows loaded', fmtNumber(r.rows_loaded)], ['Rows rejected', fmtNumber(r.rows_rejected)],
          ['Load id', r.load_id], ['Worker', r.worker],
        ];
        if (r.error) rows.push(['Error', h('span', {class: 'error run-error'}, r.error)]);
        facts.replaceChildren(h('dl', {class: 'facts'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
        auditBody.replaceChildren(...(r.audit || []).map(auditRow));
        page.poll = r.state === 'queued' || r.state === 'running';  // an ended run does not change
      },
    };
    return page;
  }

  function auditHead() {
    return h('thead', {}, h('tr', {}, ['Time', 'Level', 'Event', 'Job', 'Run', 'Message', 'Details'].map((t) => h('th', {}, t))));
  }
  function auditRow(e) {
    const details = e.details && (typeof e.details !== 'object' || Object.keys(e.details).length) ? JSON.stringify(e.details) : '';
    return h('tr', {dataset: {level: e.level, event: e.event}},
      h('td', {}, timeCell(e.time)),
      h('td', {}, h('span', {class: `badge level-${e.level}`}, e.level)),
      h('td', {class: 'mono'}, e.event),
      h('td', {}, jobLink(e.job)),
      h('td', {}, e.run ? runLink(e.run) : ''),
      h('td', {class: 'message'}, e.message),
      h('td', {class: 'mono small details', title: details}, details.length > 160 ? `${details.slice(0, 160)}…` : details));
  }

  // The audit table: the job and the limit go to the server, level, event and text filter here.
  const auditView = {job: '', limit: 500, level: '', event: '', q: ''};
  function auditPage(view) {
    let events = [];
    let lastText = '';
    const jobInput = h('input', {type: 'search', id: 'audit-job', placeholder: 'job id', value: auditView.job, 'aria-label': 'Job', list: 'audit-jobs'});
    const jobList = h('datalist', {id: 'audit-jobs'});
    const limitSel = h('select', {id: 'audit-limit', 'aria-label': 'How many events'},
      [100, 500, 2000, 10000].map((n) => h('option', {value: n, selected: n === auditView.limit}, `last ${n}`)));
    const levelSel = h('select', {id: 'audit-level', 'aria-label': 'Level'});
    const eventSel = h('select', {id: 'audit-event', 'aria-label': 'Event'});
    const text = h('input', {type: 'search', id: 'audit-q', placeholder: 'text in message or details', value: auditView.q, 'aria-label': 'Text'});
    const count = h('span', {class: 'muted', id: 'audit-count'});
    const body = h('tbody');
    append(view, [h('h1', {}, 'Audit'),
      h('div', {class: 'toolbar'}, jobInput, jobList, limitSel, levelSel, eventSel, text, count),
      h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'audit'}, auditHead(), body))]);

    let jobTimer = 0;
    jobInput.addEventListener('input', () => {
      clearTimeout(jobTimer);
      jobTimer = setTimeout(() => { auditView.job = jobInput.value.trim(); lastText = ''; page.refresh().catch(() => {}); }, 300);
    });
    limitSel.addEventListener('change', () => { auditView.limit = Number(limitSel.value); lastText = ''; page.refresh().catch(() => {}); });
    levelSel.addEventListener('change', () => { auditView.level = levelSel.value; render(); });
    eventSel.addEventListener('change', () => { auditView.event = eventSel.value; render(); });
    text.addEventListener('input', () => { auditView.q = text.value; render(); });

    function options(sel, label, values, chosen) {
      const all = [...new Set([...values, chosen].filter(Boolean))].sort();
      sel.replaceChildren(h('option', {value: ''}, label), ...all.map((v) => h('option', {value: v, selected: v === chosen}, v)));
    }
    function render() {
      const q = auditView.q.toLowerCase();
      const rows = events.filter((e) =>
        (!auditView.level || e.level === auditView.level) && (!auditView.event || e.event === auditView.event) &&
        (!q || `${e.message} ${JSON.stringify(e.details)} ${e.job}`.toLowerCase().includes(q)));
      count.textContent = `${rows.length} of ${events.length} events`;
      body.replaceChildren(...rows.slice(0, 2000).map(auditRow));
      if (!rows.length) body.append(h('tr', {}, h('td', {colspan: 7, class: 'empty'}, 'No events match.')));
    }
    const page = {
      poll: true,
      async refresh() {
        const params = new URLSearchParams({limit: String(auditView.limit)});
        if (auditView.job) params.set('job', auditView.job);
        const {data, text: body_} = await api('GET', `/api/audit?${params}`);
        if (body_ === lastText) return;
        lastText = body_;
        events = data || [];
        options(levelSel, 'any level', events.map((e) => e.level), auditView.level);
        options(eventSel, 'any event', events.map((e) => e.event), auditView.event);
        const jobs = [...new Set(events.map((e) => e.job).filter(Boolean))].sort();
        jobList.replaceChildren(...jobs.map((j) => h('option', {value: j})));
        render();
      },
    };
    return page;
  }

  // A line diff (longest common subsequence after trimming the common head and tail).
  function lineDiff(a, b) {
    let start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    let endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    const out = a.slice(0, start).map((l) => [' ', l]);
    const x = a.slice(start, endA), y = b.slice(start, endB);
    if (x.length * y.length > 4e6) {  // too big to align: all out, all in
      out.push(...x.map((l) => ['-', l]), ...y.map((l) => ['+', l]));
    } else {
      const n = x.length, m = y.length;
      const lcs = Array.from({length: n + 1}, () => new Uint32Array(m + 1));
      for (let i = n - 1; i >= 0; i--)
        for (let j = m - 1; j >= 0; j--)
          lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      let i = 0, j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && x[i] === y[j]) { out.push([' ', x[i]]); i++; j++; }
        else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(['-', x[i]]); i++; }
        else { out.push(['+', y[j]]); j++; }
      }
    }
    out.push(...a.slice(endA).map((l) => [' ', l]));
    return out;
  }
  // The diff with long unchanged stretches folded, as <pre> lines.
  function diffView(lines) {
    const CONTEXT = 3;
    const changed = lines.map((l) => l[0] !== ' ');
    const near = (i) => { for (let k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) if (changed[k]) return true; return false; };
    const pre = h('pre', {class: 'diff', id: 'diff'});
    let folded = 0;
    const flush = () => { if (folded) pre.append(h('span', {class: 'fold'}, `… ${folded} unchanged line${folded === 1 ? '' : 's'} …\n`)); folded = 0; };
    lines.forEach(([op, text], i) => {
      if (op === ' ' && !near(i)) { folded++; return; }
      flush();
      pre.append(h('span', {class: op === '+' ? 'add' : op === '-' ? 'del' : 'ctx'}, `${op} ${text}\n`));
    });
    flush();
    return pre;
  }

  // Config versions: the list, a diff against the current one, rollback (admin).
  const projectCache = new Map();  // version -> its project (immutable)
  async function versionProject(v) {
    if (!projectCache.has(v)) {
      const {data} = await api('GET', `/api/versions/${v}`);
      projectCache.set(v, data);
    }
    return projectCache.get(v);
  }
  function versionsPage(view, [selected]) {
    let versions = [];
    let lastText = '';
    let shownFor = '';
    const body = h('tbody');
    const detail = h('div', {id: 'version-detail'});
    append(view, [h('h1', {}, 'Config versions'),
      h('p', {class: 'muted'}, 'Each ', h('code', {}, 'ferry apply'), ' of the project files (and each rollback) is a version.'),
      h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'versions'},
        h('thead', {}, h('tr', {}, ['Version', 'Applied', 'Note', 'Hash', ''].map((t) => h('th', {}, t)))), body)),
      detail]);
    body.addEventListener('click', (e) => {
      if (e.target.closest('a,button')) return;
      const tr = e.target.closest('tr[data-version]');
      if (tr) location.hash = `#/versions/${tr.dataset.version}`;
    });

    const currentVersion = () => (versions.length ? Math.max(...versions.map((v) => v.version)) : 0);

    function renderList() {
      const cur = currentVersion();
      body.replaceChildren(...versions.map((v) => h('tr', {dataset: {version: v.version}, class: String(v.version) === selected ? 'selected' : null},
        h('td', {}, link(`#/versions/${v.version}`, `v${v.version}`), v.version === cur ? [' ', h('span', {class: 'badge state-succeeded'}, 'current')] : null),
        h('td', {}, timeCell(v.applied_at)),
        h('td', {}, v.note || ''),
        h('td', {class: 'mono small'}, (v.hash || '').slice(0, 12)),
        h('td', {}, link(`#/versions/${v.version}`, v.version === cur ? 'show' : 'diff')))));
      if (!versions.length) body.append(h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No version applied yet.')));
    }

    async function renderDetail() {
      const cur = currentVersion();
      const v = Number(selected);
      if (!selected || !cur || shownFor === `${v}:${cur}`) return;
      shownFor = `${v}:${cur}`;
      let mine, current;
      try {
        [mine, current] = await Promise.all([versionProject(v), versionProject(cur)]);
      } catch (e) {
        detail.replaceChildren(h('p', {class: 'error'}, e.message));
        return;
      }
      const a = stableJson(current.project).split('\n');
      const b = stableJson(mine.project).split('\n');
      const diff = lineDiff(a, b);
      const added = diff.filter((l) => l[0] === '+').length, removed = diff.filter((l) => l[0] === '-').length;
      const rollback = canWrite() && v !== cur
        ? h('button', {type: 'button', class: 'danger write', id: 'rollback', onclick: async () => {
          const ok = await confirmDialog(`Roll back to version ${v}?`,
            `Version ${v}'s project files become the config again, as a new version (the current one is v${cur}). ` +
            'The jobs of the project files return to what they were then; jobs added through the UI or the API ' +
            'stay, and runs already done are kept.', `Roll back to v${v}`);
          if (!ok) return;
          rollback.disabled = true;
          try {
            const {data} = await api('POST', `/api/versions/${v}/rollback`);
            toast(`Rolled back to v${v}: now version ${data.version}.`);
            location.hash = `#/versions/${data.version}`;
          } catch (e) {
            toast(`Rollback: ${e.message}`, 'error');
            rollback.disabled = false;
          }
        }}, `Roll back to v${v}`)
        : null;
      detail.replaceChildren(h('div', {class: 'card'},
        h('div', {class: 'title'}, h('h2', {}, `Version ${v}`, v === cur ? ' (current)' : ''), rollback),
        h('dl', {class: 'facts'}, h('dt', {}, 'Applied'), h('dd', {}, timeCell(mine.applied_at)), h('dt', {}, 'Note'), h('dd', {}, mine.note || '')),
        v === cur
          ? [h('p', {class: 'muted'}, 'The current version; choose an older one to see what rolling back would change.'),
             h('pre', {class: 'code'}, stableJson(mine.project))]
          : [h('p', {id: 'diff-summary'}, `What rolling back to v${v} would change in the current v${cur}: `,
               h('span', {class: 'del'}, `−${removed}`), ' ', h('span', {class: 'add'}, `+${added}`), ' lines (project as JSON).'),
             added || removed ? diffView(diff) : h('p', {class: 'muted'}, 'No difference.')]));
    }

    return {
      poll: true,
      async refresh() {
        const {data, text} = await api('GET', '/api/versions');
        if (text !== lastText) {
          lastText = text;
          versions = (data || []).slice().sort((a, b) => b.version - a.version);
          renderList();
        }
        await renderDetail();
      },
    };
  }

  // ---- routing, polling, login --------------------------------------------------------------

  const routes = [
    [/^(?:jobs)?$/, jobsPage, 'jobs'],
    [/^jobs\/([^/]+)$/, jobPage, 'jobs'],
    [/^add$/, addPage, 'add'],
    [/^runs$/, runsPage, 'runs'],
    [/^runs\/(\d+)$/, runPage, 'runs'],
    [/^audit$/, auditPage, 'audit'],
    [/^versions(?:\/(\d+))?$/, versionsPage, 'versions'],
  ];
  let current = null;  // {page, generation}
  let generation = 0;
  let pollTimer = 0;
  let tickChain = 0;  // only the newest chain of ticks schedules the next one

  function route() {
    if (!session.role) return;
    const path = location.hash.replace(/^#\/?/, '');
    let found = routes.find(([re]) => re.test(path));
    if (!found) { location.hash = '#/jobs'; return; }
    const [re, mount, nav] = found;
    const args = re.exec(path).slice(1).map((a) => (a === undefined ? undefined : decodeURIComponent(a)));
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === nav);
    const view = $('#view');
    view.replaceChildren();
    view.hidden = false;
    generation++;
    current = {page: mount(view, args), generation, busy: false};
    document.title = `ferry · ${nav}`;
    tick(true);
  }

  async function tick(first = false) {
    clearTimeout(pollTimer);
    const chain = ++tickChain;
    const mine = current;
    if (mine && (first || (mine.page.poll && !document.hidden)) && !mine.busy) {
      mine.busy = true;  // one request of a page at a time; a slow server is not piled on
      try {
        await mine.page.refresh();
      } catch (e) {
        if (e.status && e.status !== 401 && mine.generation === generation) toast(e.message, 'error');
      } finally {
        mine.busy = false;
      }
    }
    if (chain === tickChain && session.role) pollTimer = setTimeout(() => tick(), POLL_MS);
  }

  async function login(token) {
    session.token = token;
    const {data} = await api('GET', '/api/me');
    session.role = data.role;
    session.project = data.project || '';
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    $('#login').hidden = true;
    $('#top').hidden = false;
    $('#project').textContent = session.project;
    const role = $('#role');
    role.textContent = {admin: 'admin', read: 'read-only', open: 'open (no token)'}[session.role] || session.role;
    role.className = `badge role-${session.role}`;
    document.body.classList.toggle('readonly', !canWrite());
    $('#logout').hidden = session.role === 'open';
    route();
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    session.token = '';
    session.role = '';
    clearTimeout(pollTimer);
    current = null;
    $('#top').hidden = true;
    $('#view').hidden = true;
    $('#view').replaceChildren();
    $('#login').hidden = false;
    const err = $('#login-error');
    err.textContent = message || '';
    err.hidden = !message;
    $('#token').value = '';
    $('#token').focus();
  }

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = $('#token').value.trim();
    try {
      await login(token);
    } catch (err) {
      logout(err.status === 401 ? 'That token is not one of this project\'s API tokens.' : err.message);
    }
  });
  $('#logout').addEventListener('click', () => logout(''));
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => { if (!document.hidden && session.role) tick(); });

  // A token from this tab's session, else an open API (no tokens configured), else the form.
  login(session.token).catch(() => logout(''));
})();
