// /api/v1/retained: list retained messages matching a filter, delete the one of a topic (from memory and store).

import { isValidTopicFilter, isValidTopicName } from '../../protocol/topic.js';
import type { AdminContext } from '../context.js';
import { badRequest, intParam, notFound, sendJson } from '../http.js';
import type { Route } from '../router.js';
import { retainedView } from '../views.js';

const MAX_LIST = 10_000;

export function retainedRoutes(ctx: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/retained',
      handle: ({ res, url }) => {
        const filter = url.searchParams.get('filter') ?? '#';
        if (!isValidTopicFilter(filter)) throw badRequest(`filter: must be a valid MQTT topic filter; got ${JSON.stringify(filter)}`);
        const limit = intParam(url, 'limit', 100, 1, MAX_LIST);
        const all = ctx.broker.retained.match(filter, Date.now());
        sendJson(res, 200, { filter, total: all.length, messages: all.slice(0, limit).map(retainedView) });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/retained',
      handle: async ({ res, url }) => {
        const topic = url.searchParams.get('topic');
        if (topic === null || !isValidTopicName(topic)) throw badRequest(`topic: must be a topic name without wildcards; got ${JSON.stringify(topic)}`);
        if (ctx.broker.retained.get(topic) === undefined) throw notFound(`no retained message on topic "${topic}"`);
        ctx.broker.retained.delete(topic);
        // Answered once the deletion is durable, so it does not come back after a restart.
        await ctx.broker.persistence?.store.deleteRetained(topic);
        ctx.log.info('retained message deleted by admin', { topic });
        sendJson(res, 200, { topic, deleted: true });
      },
    },
  ];
}
