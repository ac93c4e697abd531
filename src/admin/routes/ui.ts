// GET / and GET /ui/FILE: the status page's static files (src/ui, copied to dist/src/ui by the build). They hold
// no figures, so they are served without the token, like /healthz: a browser cannot send a bearer token when
// it navigates, and the page asks for the token itself before it calls the API (which keeps the token rule).

import { nodeCrypto } from '../../lazy-builtins.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { notFound } from '../http.js';
import type { Route, RouteContext } from '../router.js';

/** Where the build puts src/ui, beside dist/src/admin. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};
/** Flat names only: nothing can climb out of the directory. */
const NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg)$/;

interface Asset {
  type: string;
  plain: Buffer;
  gzip: Buffer;
  etag: string;
}

export function uiRoutes(dir = UI_DIR): Route[] {
  // Read and compressed once: the files are small and the gateway's CPU is better spent on messages.
  const cache = new Map<string, Asset>();
  const asset = (name: string): Asset => {
    const m = NAME.exec(name);
    if (m === null) throw notFound(`no such file: /ui/${name}`);
    let a = cache.get(name);
    if (a === undefined) {
      let plain: Buffer;
      try {
        plain = readFileSync(dir + name);
      } catch {
        throw notFound(`no such file: /ui/${name}`);
      }
      a = { type: TYPES[m[1]!]!, plain, gzip: gzipSync(plain, { level: 9 }), etag: `"${nodeCrypto().createHash('sha256').update(plain).digest('base64url').slice(0, 16)}"` };
      cache.set(name, a);
    }
    return a;
  };
  const serve = (name: string, { req, res }: RouteContext) => {
    const a = asset(name);
    const headers: Record<string, string> = {
      'content-type': a.type,
      etag: a.etag,
      // Revalidated on each load, so a broker upgrade never leaves an old page in the browser.
      'cache-control': 'no-cache',
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (name === 'index.html') {
      // Everything the page loads comes from this listener: no CDN, no inline script.
      headers['content-security-policy'] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
      headers['referrer-policy'] = 'no-referrer';
    }
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? a.gzip : a.plain;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(body);
  };
  return [
    { method: 'GET', path: '/', handle: (c) => serve('index.html', c) },
    { method: 'GET', path: '/ui/:file', handle: (c) => serve(c.params.file!, c) },
  ];
}

/** Paths served without the token: the page's files carry no figures. */
export { isUiPath } from '../ui-paths.js';
