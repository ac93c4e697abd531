// The refusal log line: its fields, once per client and interval (a 3.1.1 client resending every 200 ms must not
// flood the log), again after the interval, and per client.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../src/log/logger.js';
import { RefusalLog } from '../../src/broker/refusal-log.js';
import { queueFullRefusal } from '../../src/queue/errors.js';

const test = suite('broker: refusal log');

function bed() {
  const lines: string[] = [];
  return { lines, log: new RefusalLog(createLogger('warn', (l) => lines.push(l)), 60_000) };
}

test('one line per client and minute, with the reason, the queue and what the publisher got', () => {
  const { lines, log } = bed();
  const refusal = queueFullRefusal('small', 'maxMessages');
  for (let i = 0; i < 14; i++) log.note('retrier', 'small/a', refusal, 'connection closed', 1_000 + i * 200);
  assert.is(lines.length, 1);
  assert.match(lines[0]!, / warn publish refused clientId=retrier topic=small\/a reason=queue_full queue=small detail="queue is at its maxMessages limit" action="connection closed"\n$/);
  log.note('other', 'small/b', refusal, 'answered 0x97', 2_000);
  assert.is(lines.length, 2, 'another client is logged on its own');
  log.note('retrier', 'small/a', refusal, 'connection closed', 61_000);
  assert.is(lines.length, 3, 'again once the interval has passed');
});

test.run();
