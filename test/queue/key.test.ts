// Key specs: validation of every form, extraction, and every way a message can have no key.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileKeySpec, MAX_JSON_KEY_PAYLOAD, type KeyExtractor, type KeySource } from '../../src/queue/key.js';

function extractor(spec: string): KeyExtractor {
  const x = compileKeySpec(spec);
  if (x instanceof Error) throw x;
  return x;
}

function msg(over: Partial<KeySource> = {}): KeySource {
  return { topic: 'lights/light-123/commands', payload: Buffer.alloc(0), origin: 'app-1', ...over };
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

// ---------------------------------------------------------------------------------------------------------------

const spec = suite('compileKeySpec validation');

spec('accepts every allowed form', () => {
  for (const s of ['topic', 'clientId', 'userProperty:command_type', 'userProperty:a:b', 'topicLevel:0', 'topicLevel:12', 'json:type', 'json:command.type', 'json:items.0.id']) {
    assert.type(compileKeySpec(s), 'function', s);
  }
});

spec('rejects anything else with an Error listing the allowed forms', () => {
  const bad = [
    '',
    'Topic',
    'clientid',
    'topic:x',
    'clientId:x',
    'header:x',
    'userProperty',
    'userProperty:',
    'topicLevel',
    'topicLevel:',
    'topicLevel:-1',
    'topicLevel:1.5',
    'topicLevel:01',
    'topicLevel: 1',
    'topicLevel:x',
    'topicLevel:65536',
    'json',
    'json:',
    'json:.a',
    'json:a.',
    'json:a..b',
    ' topic',
  ];
  for (const s of bad) {
    const r = compileKeySpec(s);
    assert.instance(r, Error, s);
    assert.ok(
      (r as Error).message.endsWith('allowed: userProperty:<name>, topicLevel:<n> (0-based integer), topic, clientId, json:<dot.path>'),
      `${s}: ${(r as Error).message}`,
    );
    assert.ok((r as Error).message.startsWith(`invalid key ${JSON.stringify(s)}: `), (r as Error).message);
  }
});

spec('says what is wrong with a form it knows', () => {
  assert.match((compileKeySpec('topicLevel:-1') as Error).message, 'topicLevel needs a non-negative integer level');
  assert.match((compileKeySpec('userProperty:') as Error).message, 'userProperty needs a property name');
  assert.match((compileKeySpec('userProperty') as Error).message, 'userProperty needs a property name');
  assert.match((compileKeySpec('topicLevel:65536') as Error).message, 'topicLevel is beyond the longest possible topic');
  assert.match((compileKeySpec('json:a..b') as Error).message, 'json path has an empty segment');
  assert.match((compileKeySpec('json') as Error).message, 'json needs a dot-separated path');
  assert.match((compileKeySpec('priority') as Error).message, 'unknown form');
});

// ---------------------------------------------------------------------------------------------------------------

const simple = suite('topic and clientId keys');

simple('topic: the whole topic', () => {
  assert.is(extractor('topic')(msg()), 'lights/light-123/commands');
  assert.is(extractor('topic')(msg({ topic: '/' })), '/');
});

simple('clientId: the publisher client identifier; an empty one is no key', () => {
  assert.is(extractor('clientId')(msg()), 'app-1');
  assert.is(extractor('clientId')(msg({ origin: '' })), undefined);
});

// ---------------------------------------------------------------------------------------------------------------

const up = suite('userProperty keys');

up('the named user property', () => {
  const m = msg({ properties: { userProperties: { command_type: 'set-color', other: 'x' } } });
  assert.is(extractor('userProperty:command_type')(m), 'set-color');
});

up('a repeated user property gives its last value', () => {
  const m = msg({ properties: { userProperties: { command_type: ['set-color', 'update-firmware'] } } });
  assert.is(extractor('userProperty:command_type')(m), 'update-firmware');
});

up('an empty value is a key', () => {
  assert.is(extractor('userProperty:k')(msg({ properties: { userProperties: { k: '' } } })), '');
});

up('names are exact (case-sensitive) and may contain colons', () => {
  const m = msg({ properties: { userProperties: { 'a:b': 'v', Command_Type: 'w' } } });
  assert.is(extractor('userProperty:a:b')(m), 'v');
  assert.is(extractor('userProperty:command_type')(m), undefined);
});

up('no key when the property is absent, there are no user properties, or no properties at all', () => {
  const x = extractor('userProperty:command_type');
  assert.is(x(msg({ properties: { userProperties: { other: 'x' } } })), undefined);
  assert.is(x(msg({ properties: {} })), undefined);
  assert.is(x(msg({ properties: undefined })), undefined);
  assert.is(x(msg()), undefined);
  assert.is(x(msg({ properties: { userProperties: { command_type: [] } } })), undefined);
});

up('inherited object members are not user properties', () => {
  assert.is(extractor('userProperty:toString')(msg({ properties: { userProperties: {} } })), undefined);
  assert.is(extractor('userProperty:__proto__')(msg({ properties: { userProperties: {} } })), undefined);
});

// ---------------------------------------------------------------------------------------------------------------

const level = suite('topicLevel keys');

level('level n, counted from 0', () => {
  const m = msg({ topic: 'lights/light-123/commands' });
  assert.is(extractor('topicLevel:0')(m), 'lights');
  assert.is(extractor('topicLevel:1')(m), 'light-123');
  assert.is(extractor('topicLevel:2')(m), 'commands');
});

level('empty levels count, and an empty level is a key', () => {
  assert.is(extractor('topicLevel:0')(msg({ topic: '/a//b' })), '');
  assert.is(extractor('topicLevel:1')(msg({ topic: '/a//b' })), 'a');
  assert.is(extractor('topicLevel:2')(msg({ topic: '/a//b' })), '');
  assert.is(extractor('topicLevel:3')(msg({ topic: '/a//b' })), 'b');
  assert.is(extractor('topicLevel:1')(msg({ topic: 'a/' })), '');
});

level('no key when the topic has too few levels', () => {
  assert.is(extractor('topicLevel:3')(msg({ topic: 'lights/light-123/commands' })), undefined);
  assert.is(extractor('topicLevel:1')(msg({ topic: 'single' })), undefined);
});

// ---------------------------------------------------------------------------------------------------------------

const js = suite('json keys');

js('a nested string field', () => {
  const m = msg({ payload: json({ command: { type: 'set-color', value: 'green' } }) });
  assert.is(extractor('json:command.type')(m), 'set-color');
});

js('a top-level field', () => {
  assert.is(extractor('json:device')(msg({ payload: json({ device: 'd-9' }) })), 'd-9');
});

js('numbers and booleans as JSON text', () => {
  const m = msg({ payload: Buffer.from('{"n":42,"f":1.5,"neg":-3,"big":1e21,"t":true,"no":false}') });
  assert.is(extractor('json:n')(m), '42');
  assert.is(extractor('json:f')(m), '1.5');
  assert.is(extractor('json:neg')(m), '-3');
  assert.is(extractor('json:big')(m), '1e+21');
  assert.is(extractor('json:t')(m), 'true');
  assert.is(extractor('json:no')(m), 'false');
});

js('a segment of digits indexes an array; an empty string value is a key', () => {
  const m = msg({ payload: json({ items: [{ id: 'first' }, { id: '' }] }) });
  assert.is(extractor('json:items.0.id')(m), 'first');
  assert.is(extractor('json:items.1.id')(m), '');
  assert.is(extractor('json:items.2.id')(m), undefined);
  assert.is(extractor('json:items.x')(m), undefined);
});

js('a digit segment on an object is a property name', () => {
  assert.is(extractor('json:map.0')(msg({ payload: json({ map: { '0': 'zero' } }) })), 'zero');
});

js('no key when the path is missing or goes through a scalar', () => {
  const m = msg({ payload: json({ command: { type: 'set-color' }, s: 'text' }) });
  assert.is(extractor('json:command.kind')(m), undefined);
  assert.is(extractor('json:nothing.type')(m), undefined);
  assert.is(extractor('json:s.length')(m), undefined);
  assert.is(extractor('json:command.type.x')(m), undefined);
});

js('no key when the value is null, an object or an array', () => {
  const m = msg({ payload: json({ n: null, o: { a: 1 }, a: [1, 2] }) });
  assert.is(extractor('json:n')(m), undefined);
  assert.is(extractor('json:o')(m), undefined);
  assert.is(extractor('json:a')(m), undefined);
});

js('no key when the payload is not JSON, empty, or a bare JSON scalar', () => {
  const x = extractor('json:type');
  assert.is(x(msg({ payload: Buffer.from('type=set-color') })), undefined);
  assert.is(x(msg({ payload: Buffer.from('{"type": "set-color"') })), undefined);
  assert.is(x(msg({ payload: Buffer.alloc(0) })), undefined);
  assert.is(x(msg({ payload: Buffer.from('"set-color"') })), undefined);
  assert.is(x(msg({ payload: Buffer.from([0xff, 0xfe, 0x00]) })), undefined);
});

js('inherited members are not fields', () => {
  const m = msg({ payload: json({ a: {} }) });
  assert.is(extractor('json:a.constructor')(m), undefined);
  assert.is(extractor('json:a.__proto__')(m), undefined);
  assert.is(extractor('json:__proto__')(msg({ payload: Buffer.from('{"__proto__":"p"}') })), 'p');
});

js(`parses payloads up to ${MAX_JSON_KEY_PAYLOAD} bytes; a larger one is no key`, () => {
  const x = extractor('json:type');
  const build = (size: number): Buffer => {
    const head = '{"type":"big","pad":"';
    const tail = '"}';
    return Buffer.from(head + 'x'.repeat(size - head.length - tail.length) + tail);
  };
  assert.is(MAX_JSON_KEY_PAYLOAD, 65536);
  assert.is(build(65536).length, 65536);
  assert.is(x(msg({ payload: build(65536) })), 'big');
  assert.is(x(msg({ payload: build(65537) })), undefined);
});

js('the payload is not parsed for other forms', () => {
  const original = JSON.parse;
  let calls = 0;
  JSON.parse = ((text: string) => {
    calls++;
    return original(text);
  }) as typeof JSON.parse;
  try {
    const m = msg({ payload: json({ type: 'x' }), properties: { userProperties: { k: 'v' } } });
    for (const s of ['topic', 'clientId', 'userProperty:k', 'topicLevel:0']) extractor(s)(m);
    assert.is(calls, 0);
    extractor('json:type')(m);
    assert.is(calls, 1);
  } finally {
    JSON.parse = original;
  }
});

// ---------------------------------------------------------------------------------------------------------------

const composite = suite('composite keys: [a, b, ...]');

const compositeOf = (parts: string[]): KeyExtractor => {
  const x = compileKeySpec(parts);
  if (x instanceof Error) throw x;
  return x;
};

composite('[topicLevel:1, userProperty:command_type] keeps devices apart: one key per device and command type', () => {
  const x = compositeOf(['topicLevel:1', 'userProperty:command_type']);
  const cmd = (device: string, type: string) => msg({ topic: `devices/${device}/commands`, properties: { userProperties: { command_type: type } } });
  assert.is(x(cmd('d-17', 'set-color')), '["d-17","set-color"]');
  assert.is.not(x(cmd('d-17', 'set-color')), x(cmd('d-18', 'set-color')));
  assert.is.not(x(cmd('d-17', 'set-color')), x(cmd('d-17', 'update-firmware')));
});

composite('a message missing any part has no key', () => {
  const x = compositeOf(['topicLevel:1', 'userProperty:command_type']);
  assert.is(x(msg({ topic: 'devices/d-17/commands' })), undefined);
  assert.is(x(msg({ topic: 'devices', properties: { userProperties: { command_type: 'set-color' } } })), undefined);
});

composite('parts that contain the separator of a naive join cannot collide', () => {
  const x = compositeOf(['userProperty:a', 'userProperty:b']);
  const m = (a: string, b: string) => msg({ properties: { userProperties: { a, b } } });
  assert.is.not(x(m('x|y', 'z')), x(m('x', 'y|z')));
  assert.is.not(x(m('x","y', 'z')), x(m('x', 'y","z')));
});

composite('a list of one is the single form', () => {
  assert.is(compositeOf(['topicLevel:1'])(msg()), 'light-123');
});

composite('rejects an empty list, a bad part (named by its index), a part that is not a string, a repeated part and too many parts', () => {
  const message = (spec: unknown[]) => (compileKeySpec(spec as string[]) as Error).message;
  assert.match(message([]), /composite key needs at least one part/);
  assert.match(message(['topicLevel:1', 'header:x']), /^part 1: invalid key "header:x": unknown form/);
  assert.match(message(['topicLevel:1', 3]), /^part 1: must be one of/);
  assert.match(message(['topicLevel:1', 'topicLevel:1']), /names a part twice/);
  assert.match(message(Array.from({ length: 9 }, (_, i) => `topicLevel:${i}`)), /at most 8 parts/);
});

spec.run();
composite.run();
simple.run();
up.run();
level.run();
js.run();
