// The page's sections as HTML strings built from the API's JSON; every figure goes through format.js, every
// name through esc(). app.js puts them in place and keeps the focus where it was.

import { age, bytes, count, esc, ms, percent, rate } from './format.js';
import { bridgeHealthy, bridgeList, messageRates, queueRates, storeView } from './figures.js';
import { sparkline } from './spark.js';

/** Sparklines show depth over this long. */
export const SPARK_SPAN_MS = 5 * 60_000;

const qhref = (name) => `#/queue/${encodeURIComponent(name)}`;
const card = (label, value, sub = '', id = '') => `<div class="card"${id ? ` id="${id}"` : ''}><div class="label">${label}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`;
const badge = (state, good) => `<span class="badge ${good ? 'ok' : state === 'starting' || state === 'connecting' || state === 'degraded' || state === 'connected' ? 'warn' : 'bad'}">${esc(state)}</span>`;
const table = (head, rows, id = '') => `<div class="scroll"><table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th scope="col"${h.endsWith('#') ? ' class="n"' : ''}>${h.replace(/#$/, '')}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
const num = (v) => `<td class="n">${v}</td>`;

export function overview(s) {
  const snap = s.snap;
  const st = snap.status;
  const store = storeView(snap, s.past10);
  const r = messageRates(snap, s.past10);
  const cards = [
    card('Uptime', age(st.uptimeSeconds * 1000), `since ${new Date(st.startedAt).toLocaleString()}`),
    card('Clients', count(st.sessionsConnected), `${count(st.connections)} connections · ${count(st.sessions)} sessions`, 'clients'),
    card('Messages', `${rate(r.in)} in`, `${rate(r.out)} out`),
  ];
  if (store === null) cards.push(card('Store', 'none', 'this broker runs without a store'));
  else {
    cards.push(
      card('Store', bytes(store.used), `of ${bytes(store.capacity)} · ${store.capacity ? percent(store.used / store.capacity) : ''}${store.full ? ' · <b>full</b>' : ''}<br><meter min="0" max="1" value="${store.capacity ? store.used / store.capacity : 0}" aria-label="store used"></meter>`, 'store'),
      card('Commit window', ms(store.commitIntervalMs), `p99 commit ${ms(store.commitP99Ms)}`),
      card('fsyncs', rate(store.fsyncsPerSec), store.commitMaxPerSecond ? `budget ${count(store.commitMaxPerSecond)}/s` : ''),
      card('Written', store.bytesPerDay === null ? '–' : `${bytes(store.bytesPerDay)}/day`, 'at the current rate'),
    );
  }
  return `<h1>Overview</h1><section class="cards" aria-label="Broker">${cards.join('')}</section><h2>Queues</h2>${queues(s)}`;
}

export function queues(s) {
  const list = s.snap.queues?.queues;
  if (!list) return `<p class="empty">This broker runs without a store, so it has no queues.</p>`;
  if (list.length === 0) return `<p class="empty">No queues configured (queues: in the configuration file, or POST /api/v1/queues).</p>`;
  const now = s.snap.at;
  const rows = list.map((q) => {
    const r = queueRates(q, s.snap, s.past10);
    return `<tr data-queue="${esc(q.name)}"><th scope="row"><a href="${qhref(q.name)}">${esc(q.name)}</a></th>${num(count(q.depth))}${num(bytes(q.depthBytes))}${num(count(q.inflight))}${num(count(q.consumers))}${num(q.depth ? age(q.oldestAgeMs) : '–')}${num(rate(r.in))}${num(rate(r.out))}<td>${sparkline(s.history.get(q.name) ?? [], now, SPARK_SPAN_MS, `depth of ${esc(q.name)} over the last minutes`)}</td></tr>`;
  });
  return table(['Queue', 'Depth#', 'Bytes#', 'In flight#', 'Consumers#', 'Oldest#', 'In#', 'Out#', 'Depth, last minutes'], rows, 'queues');
}

const SETTING_LABELS = { retention: 'retention', maxMessages: 'max messages', maxBytes: 'max bytes', overflow: 'overflow', consumerInflight: 'inflight per consumer', dispatch: 'dispatch', maxDeliveries: 'max deliveries', deadLetter: 'dead letter queue', redeliveryDelay: 'redelivery delay', ackTimeout: 'ack timeout', topicFilter: 'topic filter', type: 'type', key: 'key', missingKey: 'missing key' };

function settingValue(k, v) {
  if (v === null || v === undefined) return '–';
  if (k === 'maxBytes') return v === 0 ? 'no limit' : bytes(v);
  if (k === 'maxMessages' || k === 'maxDeliveries') return v === 0 ? 'no limit' : count(v);
  if (k === 'deadLetter') return `<a href="${qhref(v)}">${esc(v)}</a>`;
  return esc(Array.isArray(v) ? v.join(', ') : v);
}

export function queuePage(s, name) {
  const q = s.snap.queues?.queues?.find((x) => x.name === name);
  if (!q) return `<h1>Queue ${esc(name)}</h1><p class="empty">No queue named “${esc(name)}”.</p><p><a href="#/queues">All queues</a></p>`;
  const d = s.details.get(`queue:${name}`);
  const r = queueRates(q, s.snap, s.past10);
  const c = q.counters;
  const cards = [
    card('Depth', count(q.depth), `${bytes(q.depthBytes)}`, 'depth'),
    card('In flight', count(q.inflight), `${count(q.waitingRedelivery)} waiting redelivery`),
    card('Oldest', q.depth ? age(q.oldestAgeMs) : '–', 'consumer lag'),
    card('Rates', `${rate(r.in)} in`, `${rate(r.out)} acknowledged`),
    card('Dead letters', count(c.deadLettered), d?.settings?.deadLetter ? `to ${esc(d.settings.deadLetter)}` : 'no dead letter queue', 'dead-letters'),
  ];
  const settings = d?.settings
    ? `<dl class="settings">${Object.entries(d.settings).filter(([k]) => k !== 'name').map(([k, v]) => `<dt>${esc(SETTING_LABELS[k] ?? k)}</dt><dd>${settingValue(k, v)}</dd>`).join('')}</dl>`
    : '<p>Loading…</p>';
  const consumers = d?.consumerList
    ? d.consumerList.length === 0
      ? '<p class="empty">No consumers connected.</p>'
      : table(['Client id', 'QoS#', 'In flight#', 'Delivered#', 'Acknowledged#', 'Rejected#'], d.consumerList.map((x) => `<tr><th scope="row">${esc(x.clientId)}</th>${num(x.qos)}${num(count(x.inflight))}${num(count(x.delivered))}${num(count(x.acknowledged))}${num(count(x.rejected))}</tr>`), 'consumers')
    : '<p>Loading…</p>';
  const counters = `<dl class="settings">${Object.entries(c).map(([k, v]) => `<dt>${esc(k)}</dt><dd class="n">${count(v)}</dd>`).join('')}</dl>`;
  const peek = s.peeks.get(name);
  const peekHtml = peek === undefined ? '' : peek.error ? `<p class="error" role="alert">${esc(peek.error)}</p>` : peek.messages.length === 0 ? '<p class="empty">The queue is empty.</p>'
    : table(['Seq#', 'Topic', 'Key', 'Age#', 'Deliveries#', 'State', 'Payload'], peek.messages.map((m) => `<tr><td class="n">${m.seq}</td><td>${esc(m.topic)}</td><td>${esc(m.key ?? '')}</td>${num(age(peek.at - Date.parse(m.enqueuedAt)))}${num(m.deliveryCount)}<td>${m.inflight ? 'in flight' : 'waiting'}</td><td class="payload">${esc((m.encoding === 'base64' ? `(base64) ${m.payload}` : m.payload).slice(0, 300))}${m.truncated ? '…' : ''}</td></tr>`), 'peek');
  const notice = s.notices.get(name);
  return `<p class="crumbs"><a href="#/queues">Queues</a> › ${esc(name)}</p><h1>Queue ${esc(name)}</h1>
<section class="cards">${cards.join('')}</section>
<div class="bigspark">${sparkline(s.history.get(name) ?? [], s.snap.at, SPARK_SPAN_MS, `depth of ${esc(name)} over the last minutes`)}</div>
<div class="actions"><button type="button" data-action="peek" data-key="peek">Peek at the first 10</button> <button type="button" class="danger" data-action="purge" data-key="purge">Purge…</button></div>
${notice ? `<p class="notice" role="status" id="notice">${esc(notice)}</p>` : ''}${peekHtml}
<div class="two"><section><h2>Consumers</h2>${consumers}</section><section><h2>Settings</h2>${settings}</section></div>
<section><h2>Counters</h2>${counters}</section>`;
}

export function devices(s) {
  const body = s.snap.devices;
  if (!body || (body.devices.length === 0 && body.buses.length === 0)) return '<h1>Devices</h1><p class="empty">No devices configured (devices: and buses: in the configuration file).</p>';
  const buses = table(['Bus', 'Type', 'State', 'Busy#', 'Requests#', 'Timeouts#', 'CRC errors#'], body.buses.map((b) => `<tr><th scope="row">${esc(b.name)}</th><td>${esc(b.type)}</td><td>${badge(b.state, b.state === 'open')}${b.lastError ? ` <small>${esc(b.lastError)}</small>` : ''}</td>${num(percent(b.utilisation))}${num(count(b.counters.requests))}${num(count(b.counters.timeouts))}${num(count(b.counters.crcErrors))}</tr>`));
  const rows = body.devices.map((d) => {
    const k = d.counters;
    const exc = Object.values(k.exceptions ?? {}).reduce((a, b) => a + b, 0);
    return `<tr><th scope="row"><a href="#/device/${encodeURIComponent(d.name)}">${esc(d.name)}</a></th><td>${esc(d.bus)}</td><td>${badge(d.state, d.state === 'online')}</td>${num(d.lastSeenMs ? `${age(s.snap.at - d.lastSeenMs)} ago` : 'never')}${num(d.rttMs ? `${ms(d.rttMs.last)} / ${ms(d.rttMs.avg)} / ${ms(d.rttMs.max)}` : '–')}${num(count(k.timeouts))}${num(count(k.crcErrors))}${num(count(k.badFrames))}${num(count(exc))}${num(count(k.readingsPublished))}</tr>`;
  });
  return `<h1>Devices</h1><h2>Buses</h2>${buses}<h2>Devices</h2>${table(['Device', 'Bus', 'State', 'Last answer#', 'RTT last/avg/max#', 'Timeouts#', 'CRC#', 'Bad frames#', 'Exceptions#', 'Readings#'], rows, 'devices')}`;
}

export function devicePage(s, name) {
  const d = s.details.get(`device:${name}`);
  const live = s.snap.devices?.devices?.find((x) => x.name === name);
  if (!live) return `<h1>Device ${esc(name)}</h1><p class="empty">No device named “${esc(name)}” is running.</p><p><a href="#/devices">All devices</a></p>`;
  const points = d?.points
    ? table(['Point', 'Value', 'Quality', 'Error'], d.points.map((p) => `<tr><th scope="row">${esc(p.name)}</th><td class="n">${typeof p.value === 'number' ? esc(p.value.toLocaleString('en-US')) : esc(JSON.stringify(p.value ?? null))}</td><td>${badge(p.quality, p.quality === 'good')}</td><td>${esc(p.error ?? '')}</td></tr>`))
    : '<p>Loading…</p>';
  const exc = Object.entries(live.counters.exceptions ?? {}).map(([code, n]) => `exception ${esc(code)}: ${count(n)}`).join(', ');
  return `<p class="crumbs"><a href="#/devices">Devices</a> › ${esc(name)}</p><h1>Device ${esc(name)} ${badge(live.state, live.state === 'online')}</h1>
${live.lastError ? `<p class="error">${esc(live.lastError)}</p>` : ''}
<section class="cards">${card('Last answer', live.lastSeenMs ? `${age(s.snap.at - live.lastSeenMs)} ago` : 'never')}${card('Round trip', live.rttMs ? ms(live.rttMs.last) : '–', live.rttMs ? `avg ${ms(live.rttMs.avg)} · max ${ms(live.rttMs.max)}` : '')}${card('Errors', count(live.counters.timeouts + live.counters.crcErrors + live.counters.badFrames), `timeouts ${count(live.counters.timeouts)} · CRC ${count(live.counters.crcErrors)} · bad frames ${count(live.counters.badFrames)}${exc ? ` · ${exc}` : ''}`)}${card('Readings', count(live.counters.readingsPublished), `${count(live.counters.readingsDropped)} dropped`)}</section>
<h2>Points</h2>${points}`;
}

export function bridge(s) {
  const list = bridgeList(s.snap.bridges);
  if (list.length === 0) return '<h1>Bridge</h1><p class="empty">No bridge configured (bridges: in the configuration file).</p>';
  const now = s.snap.at;
  const when = (v) => (v === undefined ? '–' : `${age(now - (typeof v === 'string' ? Date.parse(v) : v))} ago`);
  return `<h1>Bridge</h1>${list
    .map((b) => {
      // The fields of GET /api/v1/bridges (src/bridge/status.ts, BridgeView).
      const outbox = b.outbox ?? {};
      const catchUpS = b.estimatedCatchUpSeconds;
      return `<section class="bridge"><h2>${esc(b.name)} ${badge(b.state ?? 'unknown', bridgeHealthy(b))}</h2><section class="cards">${card('Outbox', count(outbox.depth ?? 0), outbox.inflight !== undefined ? `${count(outbox.inflight)} in flight of ${count(outbox.window)}` : '')}${card('Oldest message', outbox.oldestAgeMs ? age(outbox.oldestAgeMs) : '–')}${card('Catch-up', catchUpS !== null && catchUpS !== undefined ? age(catchUpS * 1000) : '–', 'at the current rate')}${card('Last acknowledgement', b.lastAckAt ? when(b.lastAckAt) : 'never')}</section>${b.lastReason ? `<p class="error">${esc(b.lastReason)}</p>` : ''}</section>`;
    })
    .join('')}`;
}

export function login(error) {
  return `<h1>Sign in</h1><form id="login-form" class="login"><p>This admin listener needs its token (<code>admin.token</code>). It is kept in this tab only (session storage).</p>
<label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>${error ? `<p class="error" role="alert" id="login-error">${esc(error)}</p>` : ''}</form>`;
}
