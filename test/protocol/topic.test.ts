// Topic names, topic filters, shared-subscription filters and matching (MQTT 5.0 sections 4.7 and 4.8.2),
// table-driven against the examples of the specification.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isValidTopicFilter, isValidTopicName, parseSharedFilter, topicMatches } from '../../src/protocol/topic.js';

const names = suite('isValidTopicName');

names('accepts ordinary names, including empty levels, spaces and $ prefixes', () => {
  for (const t of ['a', 'sport/tennis/player1', '/', '//', '/finance', 'finance/', 'a b/c d', '$SYS/broker/load', 'ü/日本', 'a'.repeat(65535)]) {
    assert.is(isValidTopicName(t), true, t.length > 40 ? `${t.length} chars` : t);
  }
});

names('rejects wildcards, the empty string and NUL [MQTT-3.3.2-2] [MQTT-4.7.3-1] [MQTT-4.7.3-2]', () => {
  for (const t of ['', '#', '+', 'a/#', 'a/+/b', 'sport+', 'a#', 'a\u0000b']) {
    assert.is(isValidTopicName(t), false, JSON.stringify(t));
  }
});

names('rejects a name longer than 65535 characters [MQTT-4.7.3-3]', () => {
  assert.is(isValidTopicName('a'.repeat(65536)), false);
});

const filters = suite('isValidTopicFilter');

filters('accepts the valid filters of section 4.7.1', () => {
  const valid = ['#', 'sport/#', 'sport/tennis/player1/#', '+', '+/tennis/#', 'sport/+/player1', '+/+', '/+', '+/', '/#', 'a//b', '$SYS/#', '$SYS/monitor/+', 'a/b/c', '/'];
  for (const f of valid) assert.is(isValidTopicFilter(f), true, f);
});

filters('rejects "#" that is not a whole last level [MQTT-4.7.1-1]', () => {
  for (const f of ['sport/tennis#', 'sport/tennis/#/ranking', '#/a', 'a/#/', '##', 'a#']) {
    assert.is(isValidTopicFilter(f), false, f);
  }
});

filters('rejects "+" that is not a whole level [MQTT-4.7.1-2]', () => {
  for (const f of ['sport+', '+sport', 'sport/+tennis', 'a/++', '++']) {
    assert.is(isValidTopicFilter(f), false, f);
  }
});

filters('rejects the empty filter and NUL [MQTT-4.7.3-1] [MQTT-4.7.3-2]', () => {
  assert.is(isValidTopicFilter(''), false);
  assert.is(isValidTopicFilter('a/\u0000'), false);
});

const shared = suite('parseSharedFilter');

shared('returns null for a filter that is not shared', () => {
  for (const f of ['a/b', '#', '$SYS/#', '$share', '$sharex/g/a', 'share/g/a']) assert.is(parseSharedFilter(f), null, f);
});

shared('splits $share/<ShareName>/<filter>', () => {
  assert.equal(parseSharedFilter('$share/consumer1/sport/tennis/+'), { group: 'consumer1', filter: 'sport/tennis/+' });
  assert.equal(parseSharedFilter('$share/consumer2/sport/tennis/+'), { group: 'consumer2', filter: 'sport/tennis/+' });
  assert.equal(parseSharedFilter('$share/g/#'), { group: 'g', filter: '#' });
  assert.equal(parseSharedFilter('$share/g//'), { group: 'g', filter: '/' });
  assert.equal(parseSharedFilter('$share/g/$SYS/x'), { group: 'g', filter: '$SYS/x' });
});

shared('rejects an empty ShareName, one with wildcards, and a missing or invalid filter [MQTT-4.8.2-1] [MQTT-4.8.2-2]', () => {
  for (const f of ['$share/', '$share//a', '$share/g', '$share/g/', '$share/g+/a', '$share/+/a', '$share/#/a', '$share/g#/a', '$share/g/a#', '$share/g/#/a', '$share/g/a+']) {
    assert.is(parseSharedFilter(f), 'invalid', f);
  }
});

const matches = suite('topicMatches');

// [filter, topic, expected]: the examples of sections 4.7.1.2, 4.7.1.3 and 4.7.2.
const table: Array<[string, string, boolean]> = [
  // multi-level wildcard
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/tennis/player1/#', 'sport/tennis', false],
  ['sport/#', 'sport', true],
  ['sport/#', 'sport/', true],
  ['sport/#', 'sports', false],
  ['#', 'sport', true],
  ['#', '/', true],
  ['#', 'a/b/c', true],
  ['/#', '/finance', true],
  ['/#', 'finance', false],
  // single-level wildcard
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'finance', true],
  ['+', '/finance', false],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['/+', '/', true],
  ['+/+', '/', true],
  ['a/+/c', 'a//c', true],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a/b/d', false],
  ['a/+/c', 'a/b/c/d', false],
  ['+/#', 'a', true],
  ['+/#', 'a/b/c', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['+/tennis/#', 'sport/tennis/x/y', true],
  ['+/tennis/#', 'sport/golf', false],
  // exact filters, case sensitive, no normalisation [MQTT-4.7.3-4]
  ['a/b', 'a/b', true],
  ['a/b', 'a/b/', false],
  ['a/b', 'a', false],
  ['a', 'ab', false],
  ['ab', 'a', false],
  ['ACCOUNTS', 'Accounts', false],
  ['a/b', 'a//b', false],
  // topics beginning with $ [MQTT-4.7.2-1]
  ['#', '$SYS', false],
  ['#', '$SYS/monitor/Clients', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$SYS/+/Clients', '$SYS/monitor/Clients', true],
  ['a/#', 'a/$b', true],
  ['a/+', 'a/$b', true],
];

matches('matches the specification examples', () => {
  for (const [filter, topic, expected] of table) {
    assert.is(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
  }
});

names.run();
filters.run();
shared.run();
matches.run();
