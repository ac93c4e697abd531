// The status page: signs in when the listener wants a token, reads the live stream (one snapshot a second of
// the API's own JSON), keeps a few minutes of history for sparklines and rates, and renders the section the
// location hash names (#/, #/queues, #/queue/NAME, #/devices, #/device/NAME, #/bridge).

import { api, readEvents, token, Unauthorized } from './api.js';
import { age } from './format.js';
import { alerts, pastSnapshot } from './figures.js';
import * as views from './views.js';
import { SPARK_SPAN_MS } from './views.js';

const HISTORY_MS = SPARK_SPAN_MS + 60_000;
/** Queue settings and device points come from their own endpoints, refreshed this often while shown. */
const DETAIL_EVERY_MS = 5000;
const RETRY_MS = [1000, 2000, 5000, 10_000];

const s = {
  snap: null,
  snaps: [],
  past10: null,
  history: new Map(),
  limits: new Map(),
  details: new Map(),
  detailAt: new Map(),
  peeks: new Map(),
  notices: new Map(),
  live: 'connecting',
  loginError: null,
  needLogin: false,
};
const $ = (id) => document.getElementById(id);
let stream = null;

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return { view: parts[0] || 'overview', name: parts[1] === undefined ? undefined : decodeURIComponent(parts.slice(1).join('/')) };
}

function render() {
  const main = $('main');
  $('logout').hidden = !token.get();
  if (s.needLogin) {
    if (!$('login-form') || s.loginError !== main.dataset.err) {
      main.innerHTML = views.login(s.loginError);
      main.dataset.err = s.loginError ?? '';
      $('token').focus();
    }
    $('alerts').innerHTML = '';
    return;
  }
  if (!s.snap) {
    main.innerHTML = '<p>Loading…</p>';
    return;
  }
  const r = route();
  const html =
    r.view === 'queues' ? `<h1>Queues</h1>${views.queues(s)}`
    : r.view === 'queue' ? views.queuePage(s, r.name)
    : r.view === 'devices' ? views.devices(s)
    : r.view === 'device' ? views.devicePage(s, r.name)
    : r.view === 'bridge' ? views.bridge(s)
    : views.overview(s);
  // Re-rendered once a second: keep the keyboard focus on the same link or button.
  const focused = document.activeElement;
  const key = focused && main.contains(focused) ? focused.dataset.key ?? focused.getAttribute('href') : null;
  main.innerHTML = html;
  if (key) main.querySelector(`[data-key="${CSS.escape(key)}"], [href="${CSS.escape(key)}"]`)?.focus();
  for (const a of document.querySelectorAll('header nav a')) a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${r.view === 'overview' ? '' : r.view.replace(/^queue$/, 'queues').replace(/^device$/, 'devices')}`);
  const list = alerts(s.snap, s.limits, pastSnapshot(s.snaps, 60_000));
  $('alerts').innerHTML = list.length === 0 ? '<p class="allok">No alerts</p>' : `<ul>${list.map((a) => `<li class="${a.level}"><a href="${a.href}">${a.text.replace(/</g, '&lt;')}</a></li>`).join('')}</ul>`;
  showLive();
}

function showLive() {
  const el = $('live');
  const at = s.snap ? ` · ${new Date(s.snap.at).toLocaleTimeString()}` : '';
  el.className = s.live;
  el.textContent = s.live === 'live' ? `Live${at}` : s.live === 'lost' ? `Live updates lost, retrying — figures from ${s.snap ? `${age(Date.now() - s.snap.at)} ago` : 'never'}` : 'Connecting…';
}

function onSnapshot(snap) {
  s.live = 'live';
  s.snap = snap;
  s.snaps.push(snap);
  while (s.snaps.length > 2 && snap.at - s.snaps[0].at > HISTORY_MS) s.snaps.shift();
  s.past10 = pastSnapshot(s.snaps, 10_000);
  const names = new Set();
  for (const q of snap.queues?.queues ?? []) {
    names.add(q.name);
    const h = s.history.get(q.name) ?? [];
    h.push([snap.at, q.depth]);
    while (h.length > 0 && snap.at - h[0][0] > HISTORY_MS) h.shift();
    s.history.set(q.name, h);
    if (!s.limits.has(q.name)) void loadLimits(q.name);
  }
  for (const n of s.history.keys()) if (!names.has(n)) s.history.delete(n);
  void refreshDetail();
  render();
}

/** A queue's limits for the alert strip (its settings are not in the list). */
async function loadLimits(name) {
  s.limits.set(name, null);
  try {
    const d = await api(`/api/v1/queues/${encodeURIComponent(name)}`);
    s.limits.set(name, d.settings);
  } catch {
    s.limits.delete(name);
  }
}

async function refreshDetail(force = false) {
  const r = route();
  const key = r.view === 'queue' ? `queue:${r.name}` : r.view === 'device' ? `device:${r.name}` : null;
  if (key === null || r.name === undefined) return;
  if (!force && Date.now() - (s.detailAt.get(key) ?? 0) < DETAIL_EVERY_MS) return;
  s.detailAt.set(key, Date.now());
  const path = r.view === 'queue' ? `/api/v1/queues/${encodeURIComponent(r.name)}` : `/api/v1/devices/${encodeURIComponent(r.name)}`;
  try {
    const d = await api(path, { nullOn404: true });
    s.details.set(key, d);
    if (r.view === 'queue' && d) s.limits.set(r.name, d.settings);
  } catch (err) {
    if (err instanceof Unauthorized) return needLogin('The token was refused.');
  }
  render();
}

function needLogin(error) {
  s.needLogin = true;
  s.loginError = error;
  stream?.abort();
  render();
}

/** Reads the stream; when it drops, says so, keeps the last figures on screen and tries again. */
async function connect() {
  let attempt = 0;
  while (!s.needLogin) {
    const ctl = new AbortController();
    stream = ctl;
    try {
      await readEvents((snap) => {
        attempt = 0;
        onSnapshot(snap);
      }, ctl.signal);
    } catch (err) {
      if (err instanceof Unauthorized) return needLogin(token.get() ? 'The token was refused.' : null);
    }
    if (s.needLogin) return;
    s.live = 'lost';
    render();
    await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]));
  }
}

async function start() {
  s.needLogin = false;
  s.live = 'connecting';
  render();
  try {
    await api('/api/v1/status');
  } catch (err) {
    if (err instanceof Unauthorized) return needLogin(token.get() ? 'The token was refused.' : null);
  }
  void connect();
}

document.addEventListener('submit', (e) => {
  if (e.target.id !== 'login-form') return;
  e.preventDefault();
  token.set($('token').value.trim());
  s.loginError = null;
  void start();
});

document.addEventListener('click', async (e) => {
  const btn = e.target.closest('[data-action]');
  if (!btn) return;
  const name = route().name;
  if (btn.dataset.action === 'logout') {
    token.clear();
    s.snap = null;
    return needLogin(null);
  }
  if (btn.dataset.action === 'peek') {
    try {
      const body = await api(`/api/v1/queues/${encodeURIComponent(name)}/messages?limit=10`);
      s.peeks.set(name, { at: Date.now(), messages: body.messages });
    } catch (err) {
      s.peeks.set(name, { error: err.message });
    }
    render();
  }
  if (btn.dataset.action === 'purge') {
    const q = s.snap?.queues?.queues?.find((x) => x.name === name);
    $('confirm-text').textContent = `Remove every message of queue “${name}” that is not in flight (${(q?.depth ?? 0) - (q?.inflight ?? 0)} now)? This cannot be undone.`;
    $('confirm').returnValue = '';
    $('confirm').showModal();
  }
});

$('confirm').addEventListener('close', async () => {
  if ($('confirm').returnValue !== 'purge') return;
  const name = route().name;
  try {
    const r = await api(`/api/v1/queues/${encodeURIComponent(name)}/purge`, { method: 'POST' });
    s.notices.set(name, `Purged ${r.purged.toLocaleString('en-US')} messages; ${r.inflight.toLocaleString('en-US')} in flight stay until acknowledged.`);
    s.peeks.delete(name);
  } catch (err) {
    s.notices.set(name, `Purge failed: ${err.message}`);
  }
  void refreshDetail(true);
  render();
  document.querySelector('[data-action="purge"]')?.focus();
});

window.addEventListener('hashchange', () => {
  void refreshDetail(true);
  render();
  $('main').focus();
});

void start();
