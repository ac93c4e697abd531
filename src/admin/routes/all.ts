// Every admin route in one router, built when the first request arrives (server.ts): an idle broker nobody asks
// does not load the routes, their views and the Prometheus exposition (issue 13).

import type { AdminContext } from '../context.js';
import { Router } from '../router.js';
import { healthRoutes } from './health.js';
import { queueRoutes } from './queues.js';
import { retainedRoutes } from './retained.js';
import { bridgeRoutes } from './bridges.js';
import { sessionRoutes } from './sessions.js';
import { deviceRoutes } from './devices.js';
import { EventHub, eventRoutes } from './events.js';
import { uiRoutes } from './ui.js';

export interface AdminRoutes {
  router: Router;
  /** The live event streams (/api/events), stopped with the listener. */
  events: EventHub;
}

export function buildAdminRoutes(ctx: AdminContext): AdminRoutes {
  const router = new Router().add([...healthRoutes(ctx), ...queueRoutes(ctx), ...sessionRoutes(ctx), ...retainedRoutes(ctx), ...deviceRoutes(ctx), ...bridgeRoutes(ctx), ...uiRoutes()]);
  const events = new EventHub(ctx, router);
  router.add(eventRoutes(events));
  return { router, events };
}
