// GET /healthz (readiness: store open, listeners up; 503 otherwise), GET /metrics (Prometheus text) and
// GET /api/v1/status (the broker's figures as JSON).

import { renderExposition } from '../../metrics/exposition.js';
import { renderBridgeMetrics } from '../../metrics/bridge-exposition.js';
import { bridgeView } from '../../bridge/status.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/prometheus.js';
import type { AdminContext } from '../context.js';
import { ApiError, sendJson, sendText } from '../http.js';
import type { Route } from '../router.js';

export interface Health {
  ready: boolean;
  checks: { store: 'open' | 'closed' | 'full' | 'none'; listeners: 'up' | 'down' };
  problems: string[];
}

export function health(ctx: AdminContext): Health {
  const broker = ctx.broker;
  const problems: string[] = [];
  const listening = broker.isListening();
  if (!listening) problems.push('MQTT listeners are not up');
  let store: Health['checks']['store'] = 'none';
  if (broker.persistence !== null) {
    if (!broker.storeOpen()) {
      store = 'closed';
      problems.push('the store is closed');
    } else store = broker.persistence.store.isFull() ? 'full' : 'open';
  }
  // A full store still serves consumers (removals work): ready, but it shows in the checks.
  return { ready: problems.length === 0, checks: { store, listeners: listening ? 'up' : 'down' }, problems };
}

export function healthRoutes(ctx: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      handle: ({ res }) => {
        const h = health(ctx);
        sendJson(res, h.ready ? 200 : 503, { status: h.ready ? 'ok' : 'unavailable', ...h });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: ({ res }) => {
        if (!ctx.monitor.enabled) throw new ApiError(404, 'metrics are disabled (metrics.enabled: false)');
        const m = ctx.monitor;
        const now = Date.now();
        const queues = m.queues();
        const text = renderExposition({
          broker: m.brokerFigures(now),
          queues: queues.map((q) => m.queueFigures(q, now)),
          consumers: queues.map((q) => ({ queue: q.name, figures: m.consumerFigures(q) })),
          devices: ctx.devices,
        });
        const bridges = renderBridgeMetrics((ctx.bridges?.bridges ?? []).map((b) => bridgeView(b, now)));
        sendText(res, 200, PROMETHEUS_CONTENT_TYPE, text + bridges);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/status',
      handle: ({ res }) => {
        const h = health(ctx);
        sendJson(res, 200, {
          ...ctx.monitor.brokerFigures(),
          health: h,
          // Closed listeners have no address left to show.
          listeners: ctx.broker.isListening() ? ctx.broker.boundListeners() : [],
          metricsEnabled: ctx.monitor.enabled,
          // The status page's commit window and fsync budget (issue 19).
          storage: { commitIntervalMs: ctx.config.storage.commitIntervalMs, commitMaxPerSecond: ctx.config.storage.commitMaxPerSecond },
          sysIntervalMs: ctx.monitor.enabled ? ctx.config.sys.intervalMs : 0,
          pid: process.pid,
          node: process.version,
        });
      },
    },
  ];
}
