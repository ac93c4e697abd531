// An in-process broker with a real store and the monitoring stack (admin API on a free loopback port), plus
// small HTTP helpers: JSON calls that return status and body, and a checked /metrics scrape.

import type { WharfConfig } from '../../src/config/types.js';
import { startMonitoring, type Monitoring } from '../../src/admin/monitoring.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import type { DeviceStatusSource } from '../../src/devices/status.js';
import { startBroker, type TestBroker } from './broker.js';
import { checkExposition, checkWharfConventions, type Family } from './prom-checker.js';

export interface ApiResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes, asserted field by field
  text: string;
}

export interface AdminBroker extends TestBroker {
  monitoring: Monitoring;
  adminUrl: string;
  api(method: string, path: string, opts?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<ApiResult>;
  /** GET /metrics, checked by the strict exposition checker and Wharf's conventions. */
  scrape(): Promise<Map<string, Family>>;
}

export async function startAdminBroker(
  tweak?: (c: WharfConfig) => void,
  opts: { sampleIntervalMs?: number; log?: Logger; devices?: DeviceStatusSource } = {},
): Promise<AdminBroker> {
  const tb = await startBroker({}, (c) => {
    c.admin.listen = '127.0.0.1:0';
    c.sys.intervalMs = 0; // tests that want $SYS turn it on
    tweak?.(c);
  }, { durable: true });
  let monitoring: Monitoring;
  try {
    monitoring = await startMonitoring(tb.broker, tb.config, opts.log ?? silentLogger, '0.0.0-test', { sampleIntervalMs: opts.sampleIntervalMs ?? 60_000, devices: opts.devices });
  } catch (err) {
    await tb.stop();
    throw err;
  }
  const adminUrl = `http://127.0.0.1:${monitoring.adminAddress?.port ?? 0}`;
  const api: AdminBroker['api'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(adminUrl + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, body, text };
  };
  return {
    ...tb,
    monitoring,
    adminUrl,
    api,
    async scrape() {
      const r = await api('GET', '/metrics');
      if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`);
      if (r.headers.get('content-type') !== 'text/plain; version=0.0.4; charset=utf-8') throw new Error(`content type ${r.headers.get('content-type')}`);
      const families = checkExposition(r.text);
      checkWharfConventions(families);
      return families;
    },
    async stop() {
      await monitoring.stop();
      await tb.stop();
    },
  };
}
