// One snapshot of the admin API for the live stream: the list endpoints' own JSON, rendered in-process by
// their own route handlers, so the page's figures are the API's (issue 19: no second source of figures).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../http.js';
import type { Router } from '../router.js';

/** What a snapshot carries, by key: each the answer of GET path. A path without a route (a feature not built or not configured) is null. */
export const SNAPSHOT_SOURCES = {
  status: '/api/v1/status',
  queues: '/api/v1/queues',
  devices: '/api/v1/devices',
  bridges: '/api/v1/bridges',
} as const;

export type SnapshotKey = keyof typeof SNAPSHOT_SOURCES;
export type Snapshot = Record<SnapshotKey, unknown> & { at: number };

/** The part of a ServerResponse that sendJson uses: status, headers and one body. */
class CapturedResponse {
  statusCode = 200;
  headersSent = false;
  destroyed = false;
  private readonly chunks: string[] = [];

  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  setHeader(): this {
    return this;
  }

  write(chunk: string | Buffer): boolean {
    this.chunks.push(chunk.toString());
    return true;
  }

  end(chunk?: string | Buffer): this {
    if (chunk !== undefined) this.chunks.push(chunk.toString());
    return this;
  }

  body(): string {
    return this.chunks.join('');
  }
}

/** The JSON that GET `path` answers, or null when there is no such route or it answers 404 (not configured). */
async function render(router: Router, req: IncomingMessage, path: string): Promise<unknown> {
  let match;
  try {
    match = router.match('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
  const res = new CapturedResponse();
  try {
    await match.route.handle({ req, res: res as unknown as ServerResponse, url: new URL(path, 'http://admin'), params: match.params });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    // Another failure of one section (a store error, say) shows as that section's error, not a dead stream.
    return { error: (err as Error)?.message ?? String(err) };
  }
  if (res.statusCode === 404) return null;
  return JSON.parse(res.body()) as unknown;
}

export async function snapshot(router: Router, req: IncomingMessage): Promise<Snapshot> {
  const out = { at: Date.now() } as Snapshot;
  for (const [key, path] of Object.entries(SNAPSHOT_SOURCES) as [SnapshotKey, string][]) out[key] = await render(router, req, path);
  return out;
}
