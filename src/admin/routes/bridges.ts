// /api/v1/bridges[/NAME]: each upstream bridge's state, health, outbox and counters (src/bridge/status.ts).

import { bridgeView } from '../../bridge/status.js';
import type { AdminContext } from '../context.js';
import { notFound, sendJson } from '../http.js';
import type { Route } from '../router.js';

export function bridgeRoutes(ctx: AdminContext): Route[] {
  const all = () => ctx.bridges?.bridges ?? [];
  return [
    { method: 'GET', path: '/api/v1/bridges', handle: ({ res }) => sendJson(res, 200, { bridges: all().map((b) => bridgeView(b)) }) },
    {
      method: 'GET',
      path: '/api/v1/bridges/:name',
      handle: ({ res, params }) => {
        const bridge = ctx.bridges?.byName(params.name!);
        if (bridge === undefined) throw notFound(`no bridge named "${params.name}" (configured: ${all().map((b) => b.name).join(', ') || 'none'})`);
        sendJson(res, 200, bridgeView(bridge));
      },
    },
  ];
}
