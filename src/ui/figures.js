// What the page derives from the stream's snapshots (each the admin API's own JSON, see
// src/admin/routes/events-snapshot.ts): per-second rates of counters, as Prometheus' rate() would, and the
// alert strip. Pure functions, no DOM, so the tests run them in Node too.

/** Per-second rate of `get(snapshot)` between two snapshots; null without two usable values. */
export function counterRate(older, newer, get) {
  if (!older || !newer || newer.at <= older.at) return null;
  const a = get(older);
  const b = get(newer);
  if (typeof a !== 'number' || typeof b !== 'number' || b < a) return null; // a restart resets counters
  return ((b - a) * 1000) / (newer.at - older.at);
}

/** The snapshot closest to `windowMs` before the newest (the oldest kept when none is that old). */
export function pastSnapshot(history, windowMs) {
  if (history.length < 2) return null;
  const newest = history[history.length - 1];
  for (let i = history.length - 2; i >= 0; i--) if (newest.at - history[i].at >= windowMs) return history[i];
  return history[0];
}

export const sum = (xs) => (Array.isArray(xs) ? xs.reduce((a, b) => a + b, 0) : 0);

/** The store's figures of a snapshot's status, with rates over the window. */
export function storeView(snap, past) {
  const st = snap?.status?.store ?? null;
  if (st === null) return null;
  return {
    used: st.usedBytes,
    capacity: st.capacityBytes,
    full: st.full,
    commitIntervalMs: snap.status.storage?.commitIntervalMs ?? null,
    commitMaxPerSecond: snap.status.storage?.commitMaxPerSecond ?? null,
    commitP99Ms: st.commitLatencyMs?.p99 ?? null,
    fsyncsPerSec: counterRate(past, snap, (s) => s.status?.store?.syncs),
    bytesPerDay: ((r) => (r === null ? null : r * 86400))(counterRate(past, snap, (s) => s.status?.store?.bytesWritten)),
  };
}

/** Messages in and out per second: the monitor's own rates, else from the counters over the window. */
export function messageRates(snap, past) {
  const r = snap?.status?.rates;
  if (r) return { in: r.receivedPerSec, out: r.sentPerSec };
  return {
    in: counterRate(past, snap, (s) => sum(s.status?.messages?.received)),
    out: counterRate(past, snap, (s) => sum(s.status?.messages?.sent)),
  };
}

export function queueRates(q, snap, past) {
  if (q.rates) return { in: q.rates.enqueuedPerSec, out: q.rates.acknowledgedPerSec };
  const find = (s) => s?.queues?.queues?.find((x) => x.name === q.name);
  return {
    in: counterRate(past, snap, (s) => find(s)?.counters?.enqueued),
    out: counterRate(past, snap, (s) => find(s)?.counters?.acknowledged),
  };
}

/** The bridges of GET /api/v1/bridges ({ bridges: [...] }); [] when it is absent (not configured, or not fetched yet). */
export const bridgeList = (body) => (Array.isArray(body?.bridges) ? body.bridges : []);

/** BridgeView.healthy (src/bridge/status.ts): connected alone is not healthy. */
export const bridgeHealthy = (b) => b.healthy === true;

/**
 * The alert strip: what is wrong now. `limits` maps a queue name to its settings (maxMessages, maxBytes; 0 is
 * no limit); `past` is a snapshot about a minute old, to tell a queue that is dead-lettering now.
 */
export function alerts(snap, limits, past) {
  const out = [];
  if (!snap) return out;
  const st = snap.status;
  if (st?.store?.full || st?.health?.checks?.store === 'full') out.push({ level: 'bad', text: 'Store full: new messages are refused', href: '#/' });
  if (st?.health?.checks?.store === 'closed') out.push({ level: 'bad', text: 'Store closed: writes are refused', href: '#/' });
  for (const p of st?.health?.problems ?? []) if (!/store/.test(p)) out.push({ level: 'bad', text: p, href: '#/' });
  for (const q of snap.queues?.queues ?? []) {
    const lim = limits.get(q.name);
    const href = `#/queue/${encodeURIComponent(q.name)}`;
    if (lim && ((lim.maxMessages > 0 && q.depth >= lim.maxMessages) || (lim.maxBytes > 0 && q.depthBytes >= lim.maxBytes))) {
      out.push({ level: 'bad', text: `Queue ${q.name} at its limit (${lim.overflow ?? 'reject'})`, href });
    }
    const before = past?.queues?.queues?.find((x) => x.name === q.name);
    if (before && q.counters.deadLettered > before.counters.deadLettered) out.push({ level: 'warn', text: `Queue ${q.name} is dead-lettering`, href });
  }
  for (const d of snap.devices?.devices ?? []) {
    if (d.state === 'offline') out.push({ level: 'bad', text: `Device ${d.name} offline`, href: `#/device/${encodeURIComponent(d.name)}` });
    else if (d.state === 'degraded') out.push({ level: 'warn', text: `Device ${d.name} degraded`, href: `#/device/${encodeURIComponent(d.name)}` });
  }
  for (const b of bridgeList(snap.bridges)) {
    if (!bridgeHealthy(b)) out.push({ level: 'bad', text: `Bridge ${b.name ?? ''} ${b.state ?? 'not healthy'}`.replace(/\s+/g, ' '), href: '#/bridge' });
  }
  return out;
}
