// /api/v1/sessions (every session, connected or kept for later) and /api/v1/clients (connected ones): list,
// show, and the two ways to end them: disconnect a client (its session stays as its expiry says) or delete a
// session (the client is disconnected first, and everything stored for it goes).

import type { Connection } from '../../broker/connection.js';
import type { Session } from '../../broker/session.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AdminContext } from '../context.js';
import { notFound, sendJson } from '../http.js';
import type { Route } from '../router.js';
import { clientView, sessionView } from '../views.js';

function sessionOf(ctx: AdminContext, clientId: string): Session {
  const s = ctx.broker.sessions.byClientId.get(clientId);
  if (s === undefined) throw notFound(`no session for client "${clientId}"`);
  return s;
}

function connectionOf(ctx: AdminContext, clientId: string): Connection {
  const link = ctx.broker.sessions.byClientId.get(clientId)?.link as Connection | null | undefined;
  if (link === null || link === undefined) throw notFound(`no connected client "${clientId}"`);
  return link;
}

/** Connected clients, in order of connection. */
function connected(ctx: AdminContext): Connection[] {
  return [...ctx.broker.connections].filter((c) => c.session !== null && c.session.link === c);
}

export function sessionRoutes(ctx: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/sessions',
      handle: ({ res }) => sendJson(res, 200, { sessions: [...ctx.broker.sessions.byClientId.values()].map((s) => sessionView(s, false)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/sessions/:clientId',
      handle: ({ res, params }) => sendJson(res, 200, sessionView(sessionOf(ctx, params.clientId!), true)),
    },
    {
      method: 'DELETE',
      path: '/api/v1/sessions/:clientId',
      handle: ({ res, params }) => {
        const session = sessionOf(ctx, params.clientId!);
        const conn = session.link as Connection | null;
        // 0x98 Administrative action tells an MQTT 5 client why; closing first keeps its will and expiry rules.
        if (conn !== null) conn.close(ReasonCode.AdministrativeAction, 'session deleted by an administrator');
        ctx.broker.sessions.end(session);
        ctx.log.info('session deleted by admin', { clientId: session.clientId, wasConnected: conn !== null });
        sendJson(res, 200, { clientId: session.clientId, deleted: true, wasConnected: conn !== null });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/clients',
      handle: ({ res }) => {
        const now = Date.now();
        sendJson(res, 200, { clients: connected(ctx).map((c) => clientView(c, now, false)) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/clients/:clientId',
      handle: ({ res, params }) => sendJson(res, 200, clientView(connectionOf(ctx, params.clientId!), Date.now(), true)),
    },
    {
      method: 'DELETE',
      path: '/api/v1/clients/:clientId',
      handle: ({ res, params }) => {
        const conn = connectionOf(ctx, params.clientId!);
        conn.close(ReasonCode.AdministrativeAction, 'disconnected by an administrator');
        ctx.log.info('client disconnected by admin', { clientId: conn.clientId, remote: conn.remoteAddress });
        sendJson(res, 200, { clientId: conn.clientId, disconnected: true });
      },
    },
  ];
}
