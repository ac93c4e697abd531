import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/validate.js';
import { loadConfig } from '../../src/config/load.js';
import { formatDuration, parseDuration } from '../../src/config/rules.js';
import { parse } from 'yaml';
import {
  MAX_QUEUE_NAME_LENGTH,
  QUEUE_SETTING_KEYS,
  autoQueueDefinition,
  filterFromQueueName,
  isValidQueueName,
  queueFilterProblem,
  queueNameFromFilter,
  validateQueueDefinition,
} from '../../src/config/queues.js';
import type { QueueSettings, QueuesConfig } from '../../src/config/types.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../../src/queue/types.js';

function ok(queues: unknown): QueuesConfig {
  const r = validateConfig({ queues });
  if ('errors' in r) throw new Error(`expected a valid config, got errors:\n${r.errors.join('\n')}`);
  return r.config.queues;
}

function errs(queues: unknown): string[] {
  const r = validateConfig({ queues });
  if ('config' in r) throw new Error('expected errors, got a valid config');
  return r.errors;
}

/** Errors of a single definition with the given fields. */
function defErrs(def: Record<string, unknown>): string[] {
  return errs({ definitions: [def] });
}

function one(def: Record<string, unknown>, defaults?: Record<string, unknown>): QueueDefinition {
  return ok({ defaults, definitions: [def] }).definitions[0]!;
}

const SETTING_KEYS =
  'type, key, dispatch, missingKey, consumerInflight, retention, maxMessages, maxBytes, overflow, maxDeliveries, deadLetter, ' +
  'redeliveryDelay, ackTimeout';
const KEY_FORMS = 'allowed: userProperty:<name>, topicLevel:<n> (0-based integer), topic, clientId, json:<dot.path>';
const DAY = 24 * 60 * 60 * 1000;

// ---- section ---------------------------------------------------------------------------------

const section = suite('queues section');

section('the default: auto-creation on, DEFAULT_QUEUE_SETTINGS, no declared queues', () => {
  const expected: QueuesConfig = { autoCreate: true, defaults: { ...DEFAULT_QUEUE_SETTINGS }, definitions: [], dollarQueue: 'named' };
  assert.equal(ok(undefined), expected);
  assert.equal(ok(null), expected);
  assert.equal(ok({}), expected);
  assert.equal(ok({ defaults: null, definitions: null }), expected);
});

section('the full example declares a queue with every field, durations in milliseconds', () => {
  const q = ok({
    autoCreate: true,
    defaults: { dispatch: 'least_inflight', consumerInflight: 32 },
    definitions: [
      {
        name: 'images',
        topicFilter: 'images/+',
        type: 'standard',
        key: 'userProperty:command_type',
        dispatch: 'hash_key',
        consumerInflight: 1,
        retention: '7d',
        maxMessages: 100000,
        maxBytes: '512MiB',
        overflow: 'reject',
        maxDeliveries: 5,
        deadLetter: 'images-dlq',
        redeliveryDelay: '1s',
        ackTimeout: '30s',
      },
      { name: 'images-dlq', topicFilter: '$dead/images-dlq' },
    ],
  });
  assert.equal(q.definitions, [
    {
      name: 'images',
      topicFilter: 'images/+',
      type: 'standard',
      key: 'userProperty:command_type',
      dispatch: 'hash_key',
      missingKey: 'reject',
      consumerInflight: 1,
      retentionMs: 7 * DAY,
      maxMessages: 100000,
      maxBytes: 512 * 1024 * 1024,
      overflow: 'reject',
      maxDeliveries: 5,
      deadLetter: 'images-dlq',
      redeliveryDelayMs: 1000,
      ackTimeoutMs: 30000,
    },
    { ...DEFAULT_QUEUE_SETTINGS, name: 'images-dlq', topicFilter: '$dead/images-dlq' },
  ]);
});

section('autoCreate can be turned off and must be a boolean', () => {
  assert.is(ok({ autoCreate: false }).autoCreate, false);
  assert.equal(errs({ autoCreate: 'no' }), ['queues.autoCreate: must be true or false; got "no"']);
});

section('defaults fill the fields a declared queue omits; its own fields win', () => {
  const q = ok({
    defaults: { dispatch: 'round_robin', consumerInflight: 4, retention: '1h', overflow: 'drop_oldest' },
    definitions: [{ topicFilter: 'a/b', consumerInflight: 8 }],
  });
  assert.equal(q.defaults, {
    ...DEFAULT_QUEUE_SETTINGS,
    dispatch: 'round_robin',
    consumerInflight: 4,
    retentionMs: 3600000,
    overflow: 'drop_oldest',
  });
  assert.equal(q.definitions[0], {
    ...q.defaults,
    name: 'a.b',
    topicFilter: 'a/b',
    consumerInflight: 8,
  });
});

section('dollarQueue: named (EMQX 6.1, the default) or shared (EMQX 4/5); anything else names the key and the choices', () => {
  assert.is(ok({}).dollarQueue, 'named');
  assert.is(ok({ dollarQueue: 'shared' }).dollarQueue, 'shared');
  assert.is(ok({ dollarQueue: 'named' }).dollarQueue, 'named');
  assert.equal(errs({ dollarQueue: 'emqx5' }), ['queues.dollarQueue: expected one of named, shared; got "emqx5"']);
  assert.equal(errs({ dollarQueue: true }), ['queues.dollarQueue: expected one of named, shared; got true']);
});

section('unknown keys are rejected in the section, the defaults and a definition', () => {
  assert.equal(errs({ autocreate: true }), ['queues.autocreate: unknown key (allowed: autoCreate, dollarQueue, defaults, definitions)']);
  assert.equal(errs({ defaults: { name: 'x', retentionMs: 5 } }), [
    `queues.defaults.name: unknown key (allowed: ${SETTING_KEYS})`,
    `queues.defaults.retentionMs: unknown key (allowed: ${SETTING_KEYS})`,
  ]);
  assert.equal(defErrs({ topicFilter: 'a', filter: 'a' }), [
    `queues.definitions[0].filter: unknown key (allowed: name, topicFilter, ${SETTING_KEYS}, maxInstances)`,
  ]);
});

section('the section, the defaults and the list must have the right shape', () => {
  assert.equal(errs(['images/+']), ['queues: expected a mapping with keys autoCreate, dollarQueue, defaults, definitions; got a list']);
  assert.equal(errs({ defaults: 'fast' }), [`queues.defaults: expected a mapping with keys ${SETTING_KEYS}; got "fast"`]);
  assert.equal(errs({ definitions: { topicFilter: 'a' } }), [
    'queues.definitions: must be a list of queues (each with at least topicFilter); got a mapping',
  ]);
  assert.equal(errs({ definitions: ['images/+'] }), [
    'queues.definitions[0]: expected a mapping with at least topicFilter; got "images/+"',
  ]);
});

section('errors in several definitions are all reported with their index', () => {
  assert.equal(
    errs({
      definitions: [
        { topicFilter: 'a', dispatch: 'round_robin' },
        { topicFilter: 'b', dispatch: 'fastest', consumerInflight: 0 },
        { topicFilter: 'c', overflow: 'block', type: 'fifo' },
      ],
    }),
    [
      'queues.definitions[1].dispatch: expected one of random, round_robin, least_inflight, hash_key; got "fastest"',
      'queues.definitions[1].consumerInflight: must be an integer 1-65535; got 0',
      'queues.definitions[2].type: expected one of standard, lastvalue; got "fifo"',
      'queues.definitions[2].overflow: expected one of reject, drop_oldest; got "block"',
    ],
  );
});

section('defaults are validated with their own key path', () => {
  assert.equal(errs({ defaults: { dispatch: 'fastest', maxBytes: 'lots' } }), [
    'queues.defaults.dispatch: expected one of random, round_robin, least_inflight, hash_key; got "fastest"',
    'queues.defaults.maxBytes: must be 0-1099511627776 bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got "lots"',
  ]);
});

section('the configuration file form loads through YAML', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-queues-test-'));
  try {
    const file = join(dir, 'wharf.yaml');
    writeFileSync(
      file,
      `
queues:
  autoCreate: false
  defaults:
    consumerInflight: 16
    ackTimeout: 2m
  definitions:
    - topicFilter: images/+
      maxDeliveries: 5
      deadLetter: images-dlq
      redeliveryDelay: 500ms
    - name: images-dlq
      topicFilter: dead/images
      retention: 0
    - name: commands
      topicFilter: devices/+/commands
      type: lastvalue
      key: userProperty:command_type
`,
    );
    const q = loadConfig({ file, env: {} }).queues;
    assert.is(q.autoCreate, false);
    assert.equal(
      q.definitions.map((d) => [d.name, d.consumerInflight, d.ackTimeoutMs, d.redeliveryDelayMs, d.deadLetter, d.type]),
      [
        ['images._plus_', 16, 120000, 500, 'images-dlq', 'standard'],
        ['images-dlq', 16, 120000, 0, undefined, 'standard'],
        ['commands', 16, 120000, 0, undefined, 'lastvalue'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

section.run();

// ---- fields ----------------------------------------------------------------------------------

const fields = suite('queue fields');

fields('integer limits accept their bounds and reject one past them', () => {
  const ranges: [string, keyof QueueDefinition, number, number][] = [
    ['consumerInflight', 'consumerInflight', 1, 65535],
    ['maxMessages', 'maxMessages', 0, 4294967295],
    ['maxDeliveries', 'maxDeliveries', 0, 65535],
  ];
  for (const [key, field, min, max] of ranges) {
    assert.is(one({ topicFilter: 'a', [key]: min })[field], min, `${key} min`);
    assert.is(one({ topicFilter: 'a', [key]: max })[field], max, `${key} max`);
    const msg = `queues.definitions[0].${key}: must be an integer ${min}-${max}; got`;
    assert.equal(defErrs({ topicFilter: 'a', [key]: min - 1 }), [`${msg} ${min - 1}`]);
    assert.equal(defErrs({ topicFilter: 'a', [key]: max + 1 }), [`${msg} ${max + 1}`]);
    assert.equal(defErrs({ topicFilter: 'a', [key]: '5' }), [`${msg} "5"`]);
  }
});

fields('maxBytes takes a size or a byte count; 0 is unlimited', () => {
  assert.is(one({ topicFilter: 'a', maxBytes: '512MiB' }).maxBytes, 536870912);
  assert.is(one({ topicFilter: 'a', maxBytes: '1GB' }).maxBytes, 1e9);
  assert.is(one({ topicFilter: 'a', maxBytes: 4096 }).maxBytes, 4096);
  assert.is(one({ topicFilter: 'a', maxBytes: 0 }).maxBytes, 0);
  assert.equal(defErrs({ topicFilter: 'a', maxBytes: -1 }), [
    'queues.definitions[0].maxBytes: must be 0-1099511627776 bytes, as an integer or a size like "256KiB", "1MiB", "512kb"; got -1',
  ]);
});

fields('durations take ms, s, m, h and d, or 0', () => {
  const cases: [unknown, number][] = [
    ['500ms', 500],
    ['30s', 30000],
    ['15m', 900000],
    ['2h', 7200000],
    ['7d', 7 * DAY],
    ['1.5h', 5400000],
    [' 10 s ', 10000],
    [0, 0],
    ['0', 0],
    ['0s', 0],
  ];
  for (const [text, ms] of cases) {
    const d = one({ topicFilter: 'a', retention: text, redeliveryDelay: text, ackTimeout: text });
    assert.equal([d.retentionMs, d.redeliveryDelayMs, d.ackTimeoutMs], [ms, ms, ms], String(text));
  }
  assert.is(one({ topicFilter: 'a', retention: '3650d' }).retentionMs, 3650 * DAY);
});

fields('a duration without a unit, with an unknown unit, or out of range is rejected with what is allowed', () => {
  const tail = 'such as "500ms", "30s", "15m", "2h", "7d", or 0';
  assert.equal(defErrs({ topicFilter: 'a', retention: 30 }), [
    `queues.definitions[0].retention: must be a duration up to 3650d ${tail} (kept until consumed); got 30 (a unit is required: ms, s, m, h or d)`,
  ]);
  assert.equal(defErrs({ topicFilter: 'a', ackTimeout: '30' }), [
    `queues.definitions[0].ackTimeout: must be a duration up to 7d ${tail} (off); got "30" (a unit is required: ms, s, m, h or d)`,
  ]);
  assert.equal(defErrs({ topicFilter: 'a', redeliveryDelay: '8d' }), [
    `queues.definitions[0].redeliveryDelay: must be a duration up to 7d ${tail} (at once); got "8d" (691200000 ms)`,
  ]);
  for (const bad of ['7 days', '1w', '-1s', '0.5ms', '30S', '1h30m', '', true, null]) {
    const e = defErrs({ topicFilter: 'a', retention: bad });
    assert.is(e.length, 1, String(bad));
    assert.ok(e[0]!.startsWith('queues.definitions[0].retention: must be a duration up to 3650d'), e[0]);
  }
});

fields('parseDuration and formatDuration', () => {
  assert.is(parseDuration('250ms'), 250);
  assert.is(parseDuration('1.5s'), 1500);
  assert.is(parseDuration('1m'), 60000);
  assert.is(parseDuration('1d'), 86400000);
  assert.is(parseDuration('0'), 0);
  assert.is(parseDuration('5'), undefined);
  assert.is(parseDuration('1.0005s'), undefined);
  assert.is(parseDuration('1M'), undefined);
  assert.is(parseDuration('s'), undefined);
  assert.is(formatDuration(0), '0');
  assert.is(formatDuration(7 * DAY), '7d');
  assert.is(formatDuration(5400000), '90m');
  assert.is(formatDuration(1500), '1500ms');
});

fields('type, dispatch and overflow list their allowed values', () => {
  const d = one({ topicFilter: 'a', type: 'lastvalue', key: 'topic', dispatch: 'random', overflow: 'drop_oldest' });
  assert.equal([d.type, d.dispatch, d.overflow], ['lastvalue', 'random', 'drop_oldest']);
  assert.equal(defErrs({ topicFilter: 'a', dispatch: 'fastest' }), [
    'queues.definitions[0].dispatch: expected one of random, round_robin, least_inflight, hash_key; got "fastest"',
  ]);
});

fields.run();

// ---- topic filters and names ------------------------------------------------------------------

const names = suite('queue names and topic filters');

names('topicFilter is required and must be a valid filter', () => {
  assert.equal(defErrs({ name: 'a' }), [
    'queues.definitions[0].topicFilter: required (the topic filter whose publishes the queue captures)',
  ]);
  const invalid = 'must be a valid MQTT topic filter ("+" and "#" only as whole levels, "#" only last, not empty)';
  for (const f of ['', 'a/#/b', 'a+', 'a/b#', 'a\u0000b']) {
    assert.equal(defErrs({ name: 'q', topicFilter: f }), [`queues.definitions[0].topicFilter: ${invalid}; got ${JSON.stringify(f)}`]);
  }
  assert.equal(defErrs({ name: 'q', topicFilter: 7 }), [
    'queues.definitions[0].topicFilter: must be a topic filter such as "images/+"; got 7',
  ]);
});

names('$share/, $q/ and $queue/ subscriptions are not topic filters of a queue', () => {
  const msg = 'must be the topic filter itself, not a $share/, $q/ or $queue/ subscription';
  for (const f of ['$share/g/images/+', '$q/images/+', '$queue/images/images/+', '$queue/images', '$q']) {
    assert.equal(defErrs({ name: 'q', topicFilter: f }), [`queues.definitions[0].topicFilter: ${msg}; got ${JSON.stringify(f)}`]);
  }
  assert.is(queueFilterProblem('$SYS/broker/#'), undefined);
  assert.is(queueFilterProblem('$queues/x'), undefined);
  assert.is(queueFilterProblem('#'), undefined);
});

names('a name has letters, digits, _, - and . only, at most 255 characters', () => {
  assert.is(one({ name: 'Images_v2-dlq.eu', topicFilter: 'a' }).name, 'Images_v2-dlq.eu');
  assert.is(one({ name: 'x'.repeat(MAX_QUEUE_NAME_LENGTH), topicFilter: 'a' }).name.length, MAX_QUEUE_NAME_LENGTH);
  const msg = 'queues.definitions[0].name: must be a queue name of 1-255 letters, digits, "_", "-" or "."; got';
  assert.equal(defErrs({ name: 'images/+', topicFilter: 'a' }), [`${msg} "images/+"`]);
  assert.equal(defErrs({ name: '', topicFilter: 'a' }), [`${msg} ""`]);
  assert.equal(defErrs({ name: 'bilder-über', topicFilter: 'a' }), [`${msg} "bilder-über"`]);
  assert.equal(defErrs({ name: 42, topicFilter: 'a' }), [`${msg} 42`]);
  assert.equal(defErrs({ name: 'x'.repeat(256), topicFilter: 'a' }).length, 1);
  assert.is(isValidQueueName('a b'), false);
});

names('a queue without a name gets one derived from its filter', () => {
  assert.is(one({ topicFilter: 'images/+' }).name, 'images._plus_');
  assert.is(one({ topicFilter: 'sensors/#' }).name, 'sensors._all_');
});

names('a filter whose derived name is too long requires a name', () => {
  const long = 'a/'.repeat(150) + '#';
  assert.equal(defErrs({ topicFilter: long }), [
    'queues.definitions[0].name: required for this filter: the name derived from it is 305 characters, over the limit of 255',
  ]);
  assert.is(one({ name: 'long', topicFilter: long }).topicFilter, long);
});

names('queueNameFromFilter: readable names for ordinary filters', () => {
  const cases: [string, string][] = [
    ['images/+', 'images._plus_'],
    ['images/process', 'images.process'],
    ['sensors/#', 'sensors._all_'],
    ['#', '_all_'],
    ['+/+/status', '_plus_._plus_.status'],
    ['factory/line_1/temp-c', 'factory.line_1.temp-c'],
    ['devices/+/command_type', 'devices._plus_.command_type'],
    ['v1.0/data', 'v1_dot_0.data'],
    ['$SYS/broker/#', '_x24_SYS.broker._all_'],
    ['a b/ü/🙂', 'a_x20_b._xfc_._x1f642_'],
    ['/', '.'],
  ];
  for (const [filter, name] of cases) {
    assert.is(queueNameFromFilter(filter), name, filter);
    assert.ok(isValidQueueName(name), name);
  }
});

names('queueNameFromFilter: a literal "_" that would read as an escape is doubled', () => {
  assert.is(queueNameFromFilter('a/_plus_'), 'a.__plus_');
  assert.is(queueNameFromFilter('a/_all_/b'), 'a.__all_.b');
  assert.is(queueNameFromFilter('x_x24_'), 'x__x24_');
  assert.is(queueNameFromFilter('a__b'), 'a___b');
  assert.is(queueNameFromFilter('a_/b'), 'a_.b');
  assert.is(queueNameFromFilter('a_'), 'a_');
  assert.is(queueNameFromFilter('a_.b'), 'a___dot_b');
});

names('queueNameFromFilter is reversible, so different filters never share a name', () => {
  const filters = [
    'images/+',
    'images/_plus_',
    'images/plus',
    'images._plus_',
    'images/_plus',
    'images/+/_',
    'a.b',
    'a/b',
    'a_dot_b',
    'a_.b',
    'a__/b',
    '_',
    '__',
    '___',
    '_/_',
    '#',
    '_all_',
    '_x23_',
    '_x23',
    'x23_',
    '$share',
    'a b',
    'a_x20_b',
    '🙂/#',
    '_/+/_/#',
    'a_-_b',
    '-/_/.',
  ];
  const seen = new Map<string, string>();
  for (const f of filters) {
    const name = queueNameFromFilter(f);
    assert.ok(/^[A-Za-z0-9_.-]+$/.test(name), `${f} → ${name}`);
    assert.is(filterFromQueueName(name), f, `${f} → ${name}`);
    assert.is(seen.get(name), undefined, `${f} and ${seen.get(name)} both → ${name}`);
    seen.set(name, f);
  }
});

names('queueNameFromFilter round-trips random filters over a small alphabet', () => {
  const alphabet = ['a', 'x', '1', 'f', '_', '.', '/', '-', 'p', 'l', 'u', 's', 'd', 'o', 't', '$'];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const seen = new Map<string, string>();
  for (let i = 0; i < 5000; i++) {
    let f = '';
    const len = 1 + rand(10);
    for (let j = 0; j < len; j++) f += alphabet[rand(alphabet.length)];
    const name = queueNameFromFilter(f);
    assert.is(filterFromQueueName(name), f, `${f} → ${name}`);
    const other = seen.get(name);
    assert.ok(other === undefined || other === f, `${f} and ${other} both → ${name}`);
    seen.set(name, f);
  }
});

names('duplicate names and duplicate filters are rejected', () => {
  assert.equal(
    errs({
      definitions: [
        { name: 'jobs', topicFilter: 'jobs/a' },
        { name: 'jobs', topicFilter: 'jobs/b' },
        { topicFilter: 'images/+' },
        { name: 'images._plus_', topicFilter: 'pictures/+' },
        { name: 'other', topicFilter: 'images/+' },
      ],
    }),
    [
      'queues.definitions[1].name: queue name "jobs" is already used by queues.definitions[0]',
      'queues.definitions[3].name: queue name "images._plus_" is already used by queues.definitions[2]',
      'queues.definitions[4].topicFilter: "images/+" is already the filter of queues.definitions[2] (a filter names one queue, as in $q/images/+)',
    ],
  );
});

names.run();

// ---- keys ------------------------------------------------------------------------------------

const keys = suite('queue keys');

keys('every key form the engine understands is accepted', () => {
  for (const key of ['userProperty:command_type', 'topicLevel:0', 'topicLevel:3', 'topic', 'clientId', 'json:device.id', 'json:items.0.id']) {
    assert.is(one({ topicFilter: 'a', type: 'lastvalue', key }).key, key);
  }
});

keys('a malformed key names the problem and the allowed forms (wording from src/queue/key.ts)', () => {
  for (const key of ['header:x', 'userProperty:', 'topicLevel:-1', 'topicLevel:x', 'json:a..b', 'json', 'Topic']) {
    const e = defErrs({ topicFilter: 'a', type: 'lastvalue', key });
    assert.is(e.length, 1, key);
    assert.ok(e[0]!.startsWith(`queues.definitions[0].key: invalid key ${JSON.stringify(key)}: `), e[0]);
    assert.ok(e[0]!.endsWith(KEY_FORMS), e[0]);
  }
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue', key: 3 }), [
    'queues.definitions[0].key: must be a key source, one of userProperty:<name>, topicLevel:<n>, topic, clientId or json:<dot.path>, or a list of them (a composite key); got 3',
  ]);
});

keys('a composite key is a list of key sources; each bad part is reported at its own key path', () => {
  assert.equal(one({ topicFilter: 'devices/+/commands', type: 'lastvalue', key: ['topicLevel:1', 'userProperty:command_type'] }).key, [
    'topicLevel:1',
    'userProperty:command_type',
  ]);
  const bad = defErrs({ topicFilter: 'a', type: 'lastvalue', key: ['topicLevel:1', 'header:x'] });
  assert.is(bad.length, 1);
  assert.ok(bad[0]!.startsWith('queues.definitions[0].key[1]: invalid key "header:x": unknown form'), bad[0]);
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue', key: ['topicLevel:1', ['topic']] }), [
    'queues.definitions[0].key[1]: must be one key source; got a list',
  ]);
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue', key: [] }), [
    'queues.definitions[0].key: a composite key needs at least one part, each one of: userProperty:<name>, topicLevel:<n> (0-based integer), topic, clientId, json:<dot.path>',
  ]);
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue', key: ['topic', 'topic'] }), ['queues.definitions[0].key: a composite key names a part twice']);
  // From YAML, as the README writes it.
  const fromYaml = ok(parse('definitions:\n  - { topicFilter: devices/+/commands, type: lastvalue, key: [topicLevel:1, userProperty:command_type] }\n'));
  assert.equal(fromYaml.definitions[0]!.key, ['topicLevel:1', 'userProperty:command_type']);
});

keys('a lastvalue queue requires a key, from its definition or the defaults', () => {
  const msg = 'required for lastvalue queues (userProperty:<name>, topicLevel:<n>, topic, clientId or json:<dot.path>, or a list of them (a composite key))';
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue' }), [`queues.definitions[0].key: ${msg}`]);
  assert.equal(errs({ defaults: { type: 'lastvalue' } }), [`queues.defaults.key: ${msg}`]);
  assert.is(one({ topicFilter: 'a', type: 'lastvalue' }, { key: 'topicLevel:1' }).key, 'topicLevel:1');
  assert.equal(defErrs({ topicFilter: 'a', type: 'lastvalue', key: null }), [`queues.definitions[0].key: ${msg}`]);
});

keys('a key that nothing uses is rejected', () => {
  assert.equal(defErrs({ topicFilter: 'a', key: 'topic' }), [
    'queues.definitions[0].key: only used by lastvalue queues and hash_key dispatch; this queue is standard with least_inflight dispatch',
  ]);
  assert.equal(defErrs({ topicFilter: 'a', key: 'topic', dispatch: 'round_robin' }).length, 1);
  // Inherited from the defaults it is harmless: another queue may use it.
  assert.is(one({ topicFilter: 'a' }, { key: 'topic' }).key, 'topic');
});

keys('hash_key dispatch uses the key when given, else the publisher\'s client identifier', () => {
  assert.is(one({ topicFilter: 'a', dispatch: 'hash_key', key: 'userProperty:device' }).key, 'userProperty:device');
  assert.is(one({ topicFilter: 'a', dispatch: 'hash_key' }).key, 'clientId');
  assert.is(one({ topicFilter: 'a' }, { dispatch: 'hash_key' }).key, 'clientId');
  assert.is(one({ topicFilter: 'a', dispatch: 'round_robin' }, { dispatch: 'hash_key' }).key, undefined);
  // The defaults themselves keep what was written; autoQueueDefinition completes them.
  assert.is(ok({ defaults: { dispatch: 'hash_key' } }).defaults.key, undefined);
});

keys.run();

// ---- dead letters ----------------------------------------------------------------------------

const dead = suite('dead-letter queues');

dead('deadLetter names a queue declared in definitions', () => {
  const q = ok({
    definitions: [
      { name: 'jobs', topicFilter: 'jobs/#', maxDeliveries: 3, deadLetter: 'jobs-dlq' },
      { name: 'jobs-dlq', topicFilter: 'dead/jobs' },
    ],
  });
  assert.is(q.definitions[0]!.deadLetter, 'jobs-dlq');
  assert.equal(defErrs({ name: 'jobs', topicFilter: 'jobs/#', maxDeliveries: 3, deadLetter: 'jobs-dlq' }), [
    'queues.definitions[0].deadLetter: no queue named "jobs-dlq" in queues.definitions',
  ]);
});

dead('deadLetter can name a queue whose name is derived', () => {
  const q = ok({
    definitions: [
      { name: 'jobs', topicFilter: 'jobs/#', maxDeliveries: 3, deadLetter: 'dead.jobs' },
      { topicFilter: 'dead/jobs' },
    ],
  });
  assert.is(q.definitions[1]!.name, 'dead.jobs');
});

dead('deadLetter must be a valid name, not the queue itself, and needs maxDeliveries', () => {
  assert.equal(defErrs({ name: 'jobs', topicFilter: 'j', maxDeliveries: 3, deadLetter: 'jobs/dlq' }), [
    'queues.definitions[0].deadLetter: must be a queue name of 1-255 letters, digits, "_", "-" or "."; got "jobs/dlq"',
  ]);
  assert.equal(defErrs({ name: 'jobs', topicFilter: 'j', maxDeliveries: 3, deadLetter: 'jobs' }), [
    'queues.definitions[0].deadLetter: a queue cannot be its own dead-letter queue; got "jobs"',
  ]);
  assert.equal(defErrs({ topicFilter: 'jobs', maxDeliveries: 3, deadLetter: 'jobs' }), [
    'queues.definitions[0].deadLetter: a queue cannot be its own dead-letter queue; got "jobs"',
  ]);
  assert.equal(
    errs({ definitions: [{ name: 'jobs', topicFilter: 'j', deadLetter: 'dlq' }, { name: 'dlq', topicFilter: 'd' }] }),
    ['queues.definitions[0].deadLetter: has no effect while maxDeliveries is 0 (never dead-letter); set maxDeliveries'],
  );
});

dead('a dead-letter loop is rejected once', () => {
  assert.equal(
    errs({
      definitions: [
        { name: 'a', topicFilter: 'a', maxDeliveries: 1, deadLetter: 'b' },
        { name: 'b', topicFilter: 'b', maxDeliveries: 1, deadLetter: 'c' },
        { name: 'c', topicFilter: 'c', maxDeliveries: 1, deadLetter: 'a' },
        { name: 'd', topicFilter: 'd', maxDeliveries: 1, deadLetter: 'a' },
      ],
    }),
    ['queues.definitions[0].deadLetter: dead letters would go round in a loop: a → b → c → a'],
  );
});

dead('defaults.deadLetter applies to every queue but the dead-letter queue itself', () => {
  const q = ok({
    defaults: { maxDeliveries: 5, deadLetter: 'dlq' },
    definitions: [{ topicFilter: 'jobs/+' }, { name: 'dlq', topicFilter: 'dead/#' }],
  });
  assert.equal(q.defaults.deadLetter, 'dlq');
  assert.equal(q.definitions.map((d) => [d.name, d.deadLetter]), [['jobs._plus_', 'dlq'], ['dlq', undefined]]);
});

dead('defaults.deadLetter must be declared, and is reported once', () => {
  assert.equal(errs({ defaults: { maxDeliveries: 5, deadLetter: 'dlq' }, definitions: [{ topicFilter: 'a' }, { topicFilter: 'b' }] }), [
    'queues.defaults.deadLetter: no queue named "dlq" in queues.definitions',
  ]);
});

dead('an empty deadLetter overrides the default: dead letters of that queue are dropped', () => {
  const q = ok({
    defaults: { maxDeliveries: 5, deadLetter: 'dlq' },
    definitions: [{ topicFilter: 'jobs', deadLetter: null }, { name: 'dlq', topicFilter: 'dead' }],
  });
  assert.is(q.definitions[0]!.deadLetter, undefined);
  assert.is(q.definitions[0]!.maxDeliveries, 5);
});

dead.run();

// ---- shared with the admin API and the engine --------------------------------------------------

const shared = suite('validateQueueDefinition and autoQueueDefinition');

shared('validateQueueDefinition reports under the path it is given and returns the completed definition', () => {
  const errors: string[] = [];
  const d = validateQueueDefinition({ topicFilter: 'jobs/+', retention: '1d' }, 'body', DEFAULT_QUEUE_SETTINGS, errors);
  assert.equal(errors, []);
  assert.equal(d, { ...DEFAULT_QUEUE_SETTINGS, name: 'jobs._plus_', topicFilter: 'jobs/+', retentionMs: DAY });
  const bad = validateQueueDefinition({ topicFilter: 'jobs/+', dispatch: 'fastest' }, 'body', DEFAULT_QUEUE_SETTINGS, errors);
  assert.is(bad, undefined);
  assert.equal(errors, ['body.dispatch: expected one of random, round_robin, least_inflight, hash_key; got "fastest"']);
});

shared('validateQueueDefinition does not modify the defaults', () => {
  const defaults = { ...DEFAULT_QUEUE_SETTINGS, dispatch: 'hash_key' as const, deadLetter: 'q' };
  const copy = { ...defaults };
  validateQueueDefinition({ name: 'q', topicFilter: 'q' }, 'body', defaults, []);
  assert.equal(defaults, copy);
});

shared('autoQueueDefinition builds the queue $q/<filter> or $queue/<name>/<filter> creates', () => {
  assert.equal(autoQueueDefinition('images/+', DEFAULT_QUEUE_SETTINGS), {
    ...DEFAULT_QUEUE_SETTINGS,
    name: 'images._plus_',
    topicFilter: 'images/+',
  });
  assert.equal(autoQueueDefinition('images/+', DEFAULT_QUEUE_SETTINGS, 'ocr'), {
    ...DEFAULT_QUEUE_SETTINGS,
    name: 'ocr',
    topicFilter: 'images/+',
  });
  const hashed = autoQueueDefinition('t/+', { ...DEFAULT_QUEUE_SETTINGS, dispatch: 'hash_key' });
  assert.is(typeof hashed !== 'string' && hashed.key, 'clientId');
});

shared('autoQueueDefinition says why a queue cannot be created', () => {
  assert.is(
    autoQueueDefinition('a/#/b', DEFAULT_QUEUE_SETTINGS),
    'topic filter must be a valid MQTT topic filter ("+" and "#" only as whole levels, "#" only last, not empty)',
  );
  assert.is(
    autoQueueDefinition('$share/g/a', DEFAULT_QUEUE_SETTINGS),
    'topic filter must be the topic filter itself, not a $share/, $q/ or $queue/ subscription',
  );
  assert.is(autoQueueDefinition('a', DEFAULT_QUEUE_SETTINGS, 'a b'), 'queue name must be 1-255 letters, digits, "_", "-" or "."');
  assert.is(
    autoQueueDefinition('a/'.repeat(150) + '#', DEFAULT_QUEUE_SETTINGS),
    'the queue name derived from the filter is 305 characters, over the limit of 255',
  );
});

shared.run();

// ---- README ----------------------------------------------------------------------------------

const readme = suite('README queues reference');

/** README.md at the package root (this file runs from dist/test/config/). */
const README = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

readme('the YAML examples with queues validate', () => {
  const blocks = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^queues:/m.test(b));
  assert.ok(blocks.length >= 1);
  for (const b of blocks) {
    const r = validateConfig(parse(b));
    assert.ok('config' in r, 'errors' in r ? r.errors.join('\n') : '');
  }
});

readme('the table gives every setting with the default of DEFAULT_QUEUE_SETTINGS', () => {
  const FIELD: Record<string, keyof QueueSettings> = {
    retention: 'retentionMs',
    redeliveryDelay: 'redeliveryDelayMs',
    ackTimeout: 'ackTimeoutMs',
  };
  for (const key of QUEUE_SETTING_KEYS) {
    const row = new RegExp(`^\\| \`${key}\` \\| [^|]*(?:\\\\\\|[^|]*)* \\| ([^|]+) \\|`, 'm').exec(README);
    assert.ok(row, `no README row for ${key}`);
    const value = DEFAULT_QUEUE_SETTINGS[(FIELD[key] ?? key) as keyof QueueSettings];
    const expected = value === undefined ? 'none' : typeof value === 'string' ? `\`${value}\`` : String(value);
    assert.is(row![1]!.trim(), expected, key);
  }
});

readme('the last-value example keeps devices apart: a composite key of device and command type', () => {
  const commands = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => parse(m[1]!) as { queues?: { definitions?: { name?: string; key?: unknown; topicFilter?: string }[] } })
    .flatMap((doc) => doc?.queues?.definitions ?? [])
    .filter((d) => d.topicFilter === 'devices/+/commands');
  assert.ok(commands.length >= 1, 'an example for devices/+/commands');
  for (const d of commands) assert.equal(d.key, ['topicLevel:1', 'userProperty:command_type']);
});

readme.run();
