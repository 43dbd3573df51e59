// The coord dashboard: the fleet, its hosts, the task queue and the event log, live over the
// WebSocket.
//
// The page decides nothing. States come from `session.list` (the service's `classify`) and
// `host.list` (the service's judge of hosts, as `coord hosts`), asked again whenever
// `events.subscribe` pushes an event (debounced), and every few seconds for the states that
// change with time alone (`?refresh=SECONDS`, 0 for events only). With a token, the page
// offers it as the WebSocket subprotocol `coord-token.<hex>` (a browser cannot set a header
// there); the token comes from `#token=…` or the form, and is kept for this tab only.
'use strict';

(() => {
  const STATES = ['active', 'in-tool', 'background', 'blocked', 'limited', 'idle', 'stale',
    'unknown', 'dead', 'ended'];
  // Those that want a person's eye first.
  const URGENCY = { dead: 0, stale: 1, blocked: 2, limited: 3, unknown: 4, 'in-tool': 5,
    active: 6, background: 7, idle: 8, ended: 9 };
  const TASK_ORDER = ['claimed', 'pending', 'failed', 'done'];
  // Host states, those that want a person's eye first.
  const HOST_STATES = ['lost', 'down', 'silent', 'asleep', 'heard'];
  const EVENTS_KEPT = 300;
  const DEBOUNCE_MS = 30;
  // At most one re-list in this long, so an event storm costs the rate limit little.
  const MIN_GAP_MS = 300;
  const TOKEN_KEY = 'coord.token';

  const query = new URLSearchParams(location.search);
  const refreshSeconds = Number(query.get('refresh') ?? '5');
  const REFRESH_MS = Number.isFinite(refreshSeconds) && refreshSeconds > 0 ? refreshSeconds * 1000 : 0;

  const $ = (id) => document.getElementById(id);
  const view = {
    sessions: [],
    hosts: [],
    tasks: [],
    events: [],
    skew: 0,
    namespace: '',
    lastStates: new Map(),
    flash: new Set(),
    open: new Set(),
    sort: { key: 'state', dir: 1 },
    filter: {
      states: new Set((query.get('state') || '').split(',').filter((s) => STATES.includes(s))),
      host: query.get('host') || '',
      label: query.get('label') || '',
      text: query.get('q') || '',
    },
  };

  // ---- formatting -------------------------------------------------------------------------

  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);

  const serverNow = () => Date.now() + view.skew;

  function span(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
  }

  const ago = (ms) => (ms == null ? '-' : `${span(serverNow() - ms)} ago`);
  const agoSpan = (ms) => `<span class="ago" data-ms="${esc(ms ?? '')}">${esc(ago(ms))}</span>`;

  function clock(ms) {
    const d = new Date(ms);
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  const pill = (state, extra = '') => `<span class="pill s-${esc(state)}${extra}">${esc(state)}</span>`;
  const labelsOf = (o) => Object.entries(o.labels || {}).map(([k, v]) => `${k}=${v}`);
  const chipList = (items, cls) => items.map((i) => `<span class="${cls}">${esc(i)}</span>`).join('');

  function exitText(status) {
    if (status == null) return '';
    if (typeof status === 'string') return status === 'gone' ? 'no longer running' : status;
    if ('code' in status) return `exit code ${status.code}`;
    if ('signal' in status) return `killed by signal ${status.signal}`;
    return JSON.stringify(status);
  }

  // ---- the fleet --------------------------------------------------------------------------

  function visible(s) {
    const f = view.filter;
    if (f.states.size ? !f.states.has(s.state) : s.state === 'ended') return false;
    if (f.host && s.host !== f.host) return false;
    if (f.label && !labelsOf(s).includes(f.label)) return false;
    if (f.text) {
      const hay = [s.id, s.task, s.reason, s.host, s.runtime, ...labelsOf(s), ...(s.claims || [])]
        .join(' ').toLowerCase();
      if (!hay.includes(f.text.toLowerCase())) return false;
    }
    return true;
  }

  function compare(a, b) {
    const key = view.sort.key;
    const by = {
      id: (s) => s.id,
      runtime: (s) => s.runtime,
      task: (s) => s.task || '',
      host: (s) => `${s.host}:${String(s.pid ?? '').padStart(10, '0')}`,
      state: (s) => URGENCY[s.state] ?? 99,
      seen: (s) => -(s.last_seen_ms ?? 0),
    }[key];
    const x = by(a);
    const y = by(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order * view.sort.dir || a.id.localeCompare(b.id);
  }

  function renderTotals() {
    const counts = new Map();
    for (const s of view.sessions) counts.set(s.state, (counts.get(s.state) || 0) + 1);
    const live = view.sessions.filter((s) => s.state !== 'ended').length;
    $('totals').innerHTML = `<span class="total"><b>${live}</b> session${live === 1 ? '' : 's'}</span>`
      + STATES.filter((st) => counts.get(st))
        .map((st) => `<span class="count s-${st}"><i></i>${counts.get(st)} ${st}</span>`).join('');
    const chips = STATES.filter((st) => counts.get(st) || view.filter.states.has(st));
    $('state-filter').innerHTML = `<button type="button" class="chip all${view.filter.states.size ? '' : ' on'}" data-state="">all</button>`
      + chips.map((st) => `<button type="button" class="chip s-${st}${view.filter.states.has(st) ? ' on' : ''}" data-state="${st}"><i></i>${st}<b>${counts.get(st) || 0}</b></button>`).join('');
  }

  function fillSelect(el, values, current) {
    const want = ['', ...values];
    if (current && !want.includes(current)) want.push(current);
    const have = Array.from(el.options, (o) => o.value);
    if (have.join('\n') !== want.join('\n')) {
      el.innerHTML = want.map((v) => `<option value="${esc(v)}">${v ? esc(v) : 'all'}</option>`).join('');
    }
    el.value = current;
  }

  function detail(s) {
    const signals = Object.entries(s.signals || {})
      .map(([src, v]) => `<span class="kv"><b>${esc(src)}</b> ${agoSpan(v.at_ms)}</span>`).join('');
    const proc = s.process || {};
    const procText = proc.state === 'exited'
      ? `exited (${esc(exitText(proc.status))}) ${agoSpan(proc.at_ms)}`
      : proc.state === 'alive' ? `alive, checked ${agoSpan(proc.checked_at_ms)}` : 'unknown';
    const rows = [
      ['rule', `<code>${esc(s.rule)}</code>`],
      ['state since', agoSpan(s.state_since_ms)],
      ['phase', `${esc(s.phase)}${s.tool ? ` · <code>${esc(s.tool)}</code> since ${agoSpan(s.tool_since_ms)}` : ''}`],
      ['process', procText],
      ['signals', signals || '-'],
      ['registered', `${agoSpan(s.registered_at_ms)} · incarnation ${esc(s.incarnation)} · ${esc(s.beats)} beat${s.beats === 1 ? '' : 's'}`],
      ['last activity', agoSpan(s.last_activity_ms)],
      ['last progress', agoSpan(s.last_progress_ms)],
      ['cwd', s.cwd ? `<code>${esc(s.cwd)}</code>` : '-'],
      ['log', s.log_path ? `<code>${esc(s.log_path)}</code> · written ${agoSpan(s.log_mtime_ms)}` : '-'],
      ['labels', chipList(labelsOf(s), 'label') || '-'],
      ['attach', s.attach
        ? `<code class="attach">${esc(s.attach)}</code> <button type="button" class="copy" data-copy="${esc(s.attach)}">copy</button>`
        : 'in no tmux pane coord knows of'],
      ['progress', s.progress == null ? '-' : `<code>${esc(JSON.stringify(s.progress))}</code>`],
    ];
    return `<tr class="detail" data-detail="${esc(s.id)}"><td colspan="8"><dl>${
      rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl></td></tr>`;
  }

  function renderFleet() {
    const rows = view.sessions.filter(visible).sort(compare);
    $('fleet-rows').innerHTML = rows.map((s) => {
      const where = s.pid == null ? s.host : `${s.host}:${s.pid}`;
      const open = view.open.has(s.id);
      const classes = [`r-${s.state}`, view.flash.has(s.id) ? 'flash' : '', open ? 'open' : ''].join(' ');
      return `<tr class="${classes}" data-id="${esc(s.id)}" data-state="${esc(s.state)}" tabindex="0">`
        + `<td class="c-id"><span class="id">${esc(s.id)}</span>${s.leader ? '<span class="leader" title="holds the leader lease">leader</span>' : ''}</td>`
        + `<td class="c-runtime">${esc(s.runtime)}</td>`
        + `<td class="c-task"><span class="title">${esc(s.task || '-')}</span>${chipList(labelsOf(s), 'label')}</td>`
        + `<td class="c-where">${esc(where)}</td>`
        + `<td class="c-state">${pill(s.state)}</td>`
        + `<td class="c-reason" title="${esc(s.reason)}">${esc(s.reason)}</td>`
        + `<td class="c-seen">${agoSpan(s.last_seen_ms)}</td>`
        + `<td class="c-work">${chipList(s.claims || [], 'claim') || '<span class="none">-</span>'}</td>`
        + `</tr>${open ? detail(s) : ''}`;
    }).join('');
    for (const th of document.querySelectorAll('#fleet th[data-sort]')) {
      th.classList.toggle('sorted', th.dataset.sort === view.sort.key);
      th.classList.toggle('desc', th.dataset.sort === view.sort.key && view.sort.dir < 0);
    }
    const empty = $('fleet-empty');
    empty.hidden = rows.length > 0;
    empty.textContent = view.sessions.length ? 'No session matches these filters.' : 'No sessions yet.';
    const hosts = [...new Set(view.sessions.map((s) => s.host))].sort();
    const labels = [...new Set(view.sessions.flatMap(labelsOf))].sort();
    fillSelect($('host-filter'), hosts, view.filter.host);
    fillSelect($('label-filter'), labels, view.filter.label);
    renderTotals();
    renderWaiting();
  }

  // ---- waiting for you --------------------------------------------------------------------

  // The sessions blocked on a person, the longest wait first, whatever the filters; a click
  // opens the session's row below. Hidden while nobody waits.
  function renderWaiting() {
    const rows = view.sessions.filter((s) => s.state === 'blocked')
      .sort((a, b) => (a.state_since_ms ?? 0) - (b.state_since_ms ?? 0) || compare(a, b));
    $('waiting').hidden = rows.length === 0;
    $('waiting-count').textContent = rows.length ? String(rows.length) : '';
    $('waiting-rows').innerHTML = rows.map((s) => `<li data-waiting="${esc(s.id)}" tabindex="0">`
      + `<span class="waited">${agoSpan(s.state_since_ms)}</span>`
      + `<span class="id">${esc(s.id)}</span>`
      + `<span class="where">${esc(s.host)}</span>`
      + `<span class="why" title="${esc(s.reason)}">${esc(s.task ? `${s.task}: ` : '')}${esc(s.reason)}</span>`
      + (s.attach ? `<code>${esc(s.attach)}</code>` : '')
      + '</li>').join('');
  }

  // ---- the hosts --------------------------------------------------------------------------

  // One row per host, in the server's order (by name); a click shows only its sessions.
  function renderHosts() {
    $('host-rows').innerHTML = view.hosts.map((h) => {
      const sessions = h.sessions || [];
      const on = view.filter.host === h.name ? ' on' : '';
      return `<tr class="r-${esc(h.state)}${on}" data-host="${esc(h.name)}" data-state="${esc(h.state)}" tabindex="0">`
        + `<td class="h-name">${esc(h.name)}</td>`
        + `<td class="h-state">${pill(h.state)}</td>`
        + `<td class="h-reason" title="${esc(h.reason)}">${esc(h.reason)}</td>`
        + `<td class="h-last">${agoSpan(h.last_heard_ms)}</td>`
        + `<td class="h-since">${agoSpan(h.heard_since_ms)}</td>`
        + `<td class="h-sessions" title="${esc(sessions.join(', '))}">${sessions.length}</td></tr>`;
    }).join('');
    $('hosts-empty').hidden = view.hosts.length > 0;
    $('host-counts').innerHTML = HOST_STATES
      .map((st) => [st, view.hosts.filter((h) => h.state === st).length])
      .filter(([, n]) => n)
      .map(([st, n]) => `<span class="count s-${st}">${n} ${st}</span>`).join('');
  }

  // ---- the task queue ---------------------------------------------------------------------

  function taskRow(t) {
    const last = (t.history || [])[t.history.length - 1];
    let who = '';
    if (t.state === 'claimed') {
      who = `<span class="holder">${esc(t.session)}</span><span class="token" title="fencing token">#${esc(t.token)}</span>`;
    } else if (t.state === 'done') {
      who = `<span class="holder">${esc(t.session)}</span>`;
    } else if (t.state === 'failed') {
      who = `<span class="why">${esc(t.reason)}</span>`;
    }
    const history = (t.history || []).slice().reverse()
      .map((h) => `<li><time>${esc(clock(h.at))}</time> ${esc(h.what)}</li>`).join('');
    return `<details class="task t-${esc(t.state)}" data-task="${esc(t.id)}" data-state="${esc(t.state)}"${t.state === 'failed' ? ' open' : ''}>`
      + `<summary><span class="line"><span class="tid">${esc(t.id)}</span>${pill(t.state, ' small')}`
      + `<span class="ttitle">${esc(t.title)}</span>${chipList(labelsOf(t), 'label')}`
      + `<span class="who">${who}</span>`
      + (t.attempts ? `<span class="attempts" title="holders lost, of the attempts it gets">${esc(t.attempts)}/${esc(t.max_attempts)}</span>` : '')
      + `<span class="tseen">${agoSpan(t.updated_at)}</span></span>`
      + `${last ? `<span class="last">${esc(last.what)}</span>` : ''}</summary>`
      + `<ol class="history">${history}</ol></details>`;
  }

  function renderTasks() {
    const groups = new Map(TASK_ORDER.map((s) => [s, []]));
    for (const t of view.tasks) (groups.get(t.state) || groups.set(t.state, []).get(t.state)).push(t);
    $('task-counts').innerHTML = [...groups].filter(([, ts]) => ts.length)
      .map(([s, ts]) => `<span class="count s-task-${esc(s)}">${ts.length} ${esc(s)}</span>`).join('');
    const html = [...groups].filter(([, ts]) => ts.length).map(([s, ts]) => {
      const body = ts.map(taskRow).join('');
      return s === 'done'
        ? `<details class="group"><summary class="group-title">done (${ts.length})</summary>${body}</details>`
        : `<div class="group"><div class="group-title">${esc(s)}</div>${body}</div>`;
    }).join('');
    const openTasks = new Set(Array.from(document.querySelectorAll('#tasks details.task[open]'), (d) => d.dataset.task));
    const doneOpen = document.querySelector('#tasks details.group')?.open;
    $('tasks').innerHTML = html || '<p class="empty">The queue is empty.</p>';
    for (const d of document.querySelectorAll('#tasks details.task')) {
      if (openTasks.has(d.dataset.task)) d.open = true;
    }
    const done = document.querySelector('#tasks details.group');
    if (done && doneOpen) done.open = true;
  }

  // ---- the event log ----------------------------------------------------------------------

  function eventText(e) {
    switch (e.kind) {
      case 'registered': return `${e.runtime} at ${e.location}`;
      case 'phase': return `${e.from} → ${e.to}`;
      case 'exited': return exitText(e.status);
      case 'ended': return 'unregistered';
      case 'evicted': return e.reason;
      case 'claimed': return `claimed ${e.task} (token ${e.token})`;
      case 'leader': return `took the lead (term ${e.term})`;
      case 'unclaimed': return `${e.task} → ${e.state}: ${e.why}`;
      case 'host': return `${e.became}: ${e.why}`;
      default: return JSON.stringify(e);
    }
  }

  function addEvents(list) {
    const seen = new Set(view.events.map((e) => e.seq));
    const fresh = list.filter((e) => !seen.has(e.seq));
    if (!fresh.length) return;
    view.events = view.events.concat(fresh).sort((a, b) => b.seq - a.seq).slice(0, EVENTS_KEPT);
    renderEvents();
  }

  function renderEvents() {
    $('events').innerHTML = view.events.map((e) => `<li class="ev k-${esc(e.kind)}" data-seq="${esc(e.seq)}">`
      + `<time title="${esc(e.at)}">${esc(clock(e.at_ms))}</time>`
      + `<span class="seq">#${esc(e.seq)}</span>`
      + `<span class="who">${esc(e.session)}</span>`
      + `<span class="kind">${esc(e.kind)}</span>`
      + `<span class="what" title="${esc(eventText(e))}">${esc(eventText(e))}</span></li>`).join('');
    $('event-counts').textContent = view.events.length ? `last ${view.events.length}` : '';
  }

  // ---- the connection ---------------------------------------------------------------------

  let socket = null;
  let nextId = 1;
  const pending = new Map();
  let lastSeq = null;
  let retryMs = 500;
  let token = takeToken();

  function takeToken() {
    const m = location.hash.match(/(?:^#|&)token=([^&]*)/);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  const hex = (s) => Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, '0')).join('');

  function setConn(state, text) {
    $('conn').dataset.conn = state;
    $('conn-text').textContent = text || state;
  }

  function notice(text) {
    const n = $('notice');
    n.hidden = !text;
    n.textContent = text || '';
  }

  function call(method, params) {
    return new Promise((resolve, reject) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  function receive(msg) {
    if (msg.method === 'events.event') {
      const e = msg.params;
      lastSeq = Math.max(lastSeq ?? 0, e.seq);
      addEvents([e]);
      want();
      return;
    }
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.error) waiter.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
    else waiter.resolve(msg.result);
  }

  function connect() {
    setConn('connecting', 'connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const protocols = token ? ['coord', `coord-token.${hex(token)}`] : ['coord'];
    let opened = false;
    socket = new WebSocket(url, protocols);
    socket.onopen = () => {
      opened = true;
      retryMs = 500;
      start().catch((e) => notice(`Could not start: ${e.message}`));
    };
    socket.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      for (const one of Array.isArray(msg) ? msg : [msg]) receive(one);
    };
    socket.onclose = () => {
      socket = null;
      for (const w of pending.values()) w.reject(new Error('the connection closed'));
      pending.clear();
      if (opened) {
        setConn('down', 'reconnecting');
        retry();
      } else {
        diagnose();
      }
    };
  }

  function retry() {
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  }

  // A handshake refused for want of the token looks, to a page, like a server that is down:
  // the health check tells them apart.
  async function diagnose() {
    let status = 0;
    try {
      const r = await fetch('/healthz', token ? { headers: { Authorization: `Bearer ${token}` } } : {});
      status = r.status;
    } catch { status = 0; }
    if (status === 401) {
      setConn('down', token ? 'wrong token' : 'token needed');
      $('login-why').textContent = token
        ? 'The token this tab holds was refused. Enter the one coord serve was started with.'
        : 'Every request to this coord serve must carry the token it was started with.';
      $('login').hidden = false;
      $('main').hidden = true;
      $('login-token').focus();
    } else {
      setConn('down', status ? 'reconnecting' : 'server unreachable');
      retry();
    }
  }

  async function start() {
    $('login').hidden = true;
    $('main').hidden = false;
    const fresh = lastSeq == null;
    const sub = await call('events.subscribe', fresh ? {} : { since: lastSeq });
    if (fresh) {
      lastSeq = Math.max(lastSeq ?? 0, sub.since);
      const from = Math.max(0, sub.since - EVENTS_KEPT);
      const past = await call('events.list', { since: from, limit: EVENTS_KEPT });
      addEvents(past.events);
    }
    setConn('live', 'live');
    notice('');
    want();
  }

  // ---- refreshing -------------------------------------------------------------------------

  let timer = null;
  let inFlight = false;
  let again = false;
  let lastAsk = 0;

  function want() {
    if (inFlight) { again = true; return; }
    if (timer) return;
    const wait = Math.max(DEBOUNCE_MS, MIN_GAP_MS - (performance.now() - lastAsk));
    timer = setTimeout(refresh, wait);
  }

  async function refresh() {
    timer = null;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    inFlight = true;
    lastAsk = performance.now();
    try {
      const [fleet, queue, hosts] = await Promise.all([
        call('session.list', { all: true }), call('task.list', {}), call('host.list', {})]);
      view.skew = fleet.now_ms - Date.now();
      view.namespace = fleet.namespace;
      $('namespace').textContent = fleet.namespace;
      view.flash.clear();
      for (const s of fleet.sessions) {
        const before = view.lastStates.get(s.id);
        if (before && before !== s.state) view.flash.add(s.id);
        view.lastStates.set(s.id, s.state);
      }
      view.sessions = fleet.sessions;
      view.hosts = hosts.hosts;
      view.tasks = queue.tasks;
      renderFleet();
      renderHosts();
      renderTasks();
      notice('');
    } catch (e) {
      if (socket) notice(`${e.message}${e.code ? ` (${e.code})` : ''}: showing the last known fleet.`);
    } finally {
      inFlight = false;
      if (again) { again = false; want(); }
    }
  }

  // ---- controls ---------------------------------------------------------------------------

  function keepInUrl() {
    const q = new URLSearchParams(location.search);
    const set = (k, v) => (v ? q.set(k, v) : q.delete(k));
    set('state', [...view.filter.states].join(','));
    set('host', view.filter.host);
    set('label', view.filter.label);
    set('q', view.filter.text);
    const s = q.toString();
    history.replaceState(null, '', location.pathname + (s ? `?${s}` : ''));
  }

  function onFilter() {
    keepInUrl();
    renderFleet();
    renderHosts();
  }

  $('state-filter').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-state]');
    if (!b) return;
    const st = b.dataset.state;
    if (!st) view.filter.states.clear();
    else if (view.filter.states.has(st)) view.filter.states.delete(st);
    else view.filter.states.add(st);
    onFilter();
  });
  $('host-filter').addEventListener('change', (ev) => { view.filter.host = ev.target.value; onFilter(); });
  $('label-filter').addEventListener('change', (ev) => { view.filter.label = ev.target.value; onFilter(); });
  $('search').value = view.filter.text;
  $('search').addEventListener('input', (ev) => { view.filter.text = ev.target.value.trim(); onFilter(); });

  document.querySelector('#fleet thead').addEventListener('click', (ev) => {
    const th = ev.target.closest('th[data-sort]');
    if (!th) return;
    view.sort = { key: th.dataset.sort, dir: view.sort.key === th.dataset.sort ? -view.sort.dir : 1 };
    renderFleet();
  });

  function toggleRow(tr) {
    const id = tr.dataset.id;
    if (view.open.has(id)) view.open.delete(id); else view.open.add(id);
    view.flash.clear();
    renderFleet();
  }
  // The attach command of an open row: to the clipboard where the page may write it (a secure
  // context: https or localhost), else selected for the person to copy.
  function copy(button) {
    const code = button.previousElementSibling;
    const selectIt = () => window.getSelection().selectAllChildren(code);
    if (!navigator.clipboard) { selectIt(); return; }
    navigator.clipboard.writeText(button.dataset.copy)
      .then(() => { button.textContent = 'copied'; }, selectIt);
  }
  $('fleet-rows').addEventListener('click', (ev) => {
    const button = ev.target.closest('button.copy');
    if (button) { copy(button); return; }
    const tr = ev.target.closest('tr[data-id]');
    if (tr && !window.getSelection().toString()) toggleRow(tr);
  });
  $('fleet-rows').addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); toggleRow(tr); }
  });

  function goTo(li) {
    view.open.add(li.dataset.waiting);
    renderFleet();
    document.querySelector(`tr[data-id="${CSS.escape(li.dataset.waiting)}"]`)?.scrollIntoView({ block: 'center' });
  }
  $('waiting-rows').addEventListener('click', (ev) => {
    const li = ev.target.closest('li[data-waiting]');
    if (li && !window.getSelection().toString()) goTo(li);
  });
  $('waiting-rows').addEventListener('keydown', (ev) => {
    const li = ev.target.closest('li[data-waiting]');
    if (li && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); goTo(li); }
  });

  function pickHost(tr) {
    view.filter.host = view.filter.host === tr.dataset.host ? '' : tr.dataset.host;
    onFilter();
  }
  $('host-rows').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-host]');
    if (tr && !window.getSelection().toString()) pickHost(tr);
  });
  $('host-rows').addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-host]');
    if (tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); pickHost(tr); }
  });

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('login-token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $('login-token').value = '';
    connect();
  });

  // Relative times move with the clock, without asking the server.
  setInterval(() => {
    for (const el of document.querySelectorAll('.ago[data-ms]')) {
      const ms = el.dataset.ms === '' ? null : Number(el.dataset.ms);
      el.textContent = ago(ms);
    }
  }, 1000);
  if (REFRESH_MS) setInterval(want, REFRESH_MS);

  connect();
})();
