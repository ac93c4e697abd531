// Routes of the admin API: a method and a path pattern with `:name` segments, matched segment by segment.
// A path that exists with another method answers 405 with Allow; an unknown path 404.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './http.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  handle(ctx: RouteContext): Promise<void> | void;
}

export class Router {
  private readonly routes: { route: Route; segments: string[] }[] = [];

  add(routes: Route[]): this {
    for (const route of routes) this.routes.push({ route, segments: route.path.split('/').slice(1) });
    return this;
  }

  /** The route for a request and its decoded parameters; throws ApiError 404/405/400. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const parts = pathname.split('/').slice(1);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash is forgiven
    const allowed: string[] = [];
    for (const { route, segments } of this.routes) {
      const params = matchSegments(segments, parts);
      if (params === null) continue;
      // HEAD is answered like GET by Node when the handler writes a body.
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      allowed.push(route.method);
    }
    if (allowed.length > 0) throw new ApiError(405, `method ${method} not allowed on ${pathname}; allowed: ${allowed.join(', ')}`, { allow: allowed.join(', ') });
    throw new ApiError(404, `no such endpoint: ${pathname}`);
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(parts[i]!);
      } catch {
        throw new ApiError(400, `malformed percent-encoding in ${JSON.stringify(parts[i])}`);
      }
      if (params[p.slice(1)] === '') return null;
    } else if (p !== parts[i]) return null;
  }
  return params;
}
