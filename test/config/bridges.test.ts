import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateBridgesWith } from '../../src/config/bridges.js';
import { validateConfig } from '../../src/config/validate.js';
import { outboxDefinition } from '../../src/bridge/outbox.js';

const bridges = suite('config: bridges');

const errorsOf = (raw: unknown): string[] => {
  const r = validateConfig({ bridges: raw });
  return 'errors' in r ? r.errors : [];
};

bridges('the example of the issue validates, with defaults filled in', () => {
  const r = validateConfig({
    bridges: [
      {
        name: 'cloud',
        url: 'mqtts://broker.example.com:8883',
        clientId: 'site-17',
        forward: [
          { filter: 'devices/+/state', remotePrefix: 'sites/17/', qos: 1, whileOffline: 'last_value' },
          { filter: 'alarms/#', remotePrefix: 'sites/17/', qos: 1, priority: 'high' },
        ],
        subscribe: [{ filter: 'sites/17/commands/#', remotePrefix: 'sites/17/', qos: 1 }],
        outbox: { maxBytes: '256MiB', overflow: 'drop_oldest', inflight: 64 },
      },
    ],
  });
  assert.ok('config' in r, 'errors' in r ? r.errors.join('\n') : '');
  if (!('config' in r)) return;
  const b = r.config.bridges[0]!;
  assert.equal(b.urls, ['mqtts://broker.example.com:8883']);
  assert.is(b.protocolVersion, 5);
  assert.is(b.outbox.maxBytes, 256 * 1024 * 1024);
  assert.is(b.forward[1]!.priority, 'high');
  assert.is(b.forward[0]!.localPrefix, '');
  assert.is(b.statusTopic, 'wharf/bridges/cloud/status');
  const def = outboxDefinition(b, 0, b.forward[0]!);
  assert.equal([def.name, def.type, def.key, def.topicFilter, def.maxBytes], ['bridge.cloud.0', 'lastvalue', 'topic', 'devices/+/state', 128 * 1024 * 1024]);
});

bridges('errors name the key path and what is allowed', () => {
  const errors = errorsOf([
    { name: 'cloud', url: 'http://x', forward: [{ filter: 'a/#', whileOffline: 'newest' }, { remotePrefix: 'x' }], outbox: { inflight: 0, spill: 1 } },
    { name: 'bad.name', url: ['mqtt://a', 'mqtt://b'], subscribe: [{ filter: 'sites/17/x', remotePrefix: 'sites/18/' }] },
  ]);
  const want = [
    'bridges[0].url: must be a URL',
    'bridges[0].forward[0].whileOffline: expected one of keep_all, last_value; got "newest"',
    'bridges[0].forward[1].filter: required',
    'bridges[0].forward[1].remotePrefix: must be a topic prefix ending in "/"',
    'bridges[0].outbox.spill: unknown key',
    'bridges[0].outbox.inflight: must be an integer 1-65535; got 0',
    'bridges[1].name: must be 1-64 letters, digits, "_" or "-"; got "bad.name"',
    'bridges[1].subscribe[0].filter: must start with remotePrefix "sites/18/"',
  ];
  for (const w of want) assert.ok(errors.some((e) => e.startsWith(w)), `missing "${w}" in:\n${errors.join('\n')}`);
});

bridges('passwordEnv reads the environment; an unset variable is an error; names are unique', () => {
  const v = validateBridgesWith({ CLOUD_PASSWORD: 's3cret' });
  const errors: string[] = [];
  const out = v('bridges', [{ name: 'cloud', url: 'mqtt://a', username: 'site', passwordEnv: 'CLOUD_PASSWORD', forward: [{ filter: 'a/#' }] }], [], errors);
  assert.equal(errors, []);
  assert.is(out[0]!.password, 's3cret');
  const errors2: string[] = [];
  v('bridges', [{ name: 'cloud', url: 'mqtt://a', username: 'u', passwordEnv: 'MISSING', forward: [{ filter: 'a/#' }] }, { name: 'cloud', url: 'mqtt://b', forward: [{ filter: 'b/#' }] }], [], errors2);
  assert.ok(errors2.some((e) => e.startsWith('bridges[0].passwordEnv: environment variable MISSING is not set')), errors2.join('\n'));
  const errors3: string[] = [];
  v('bridges', [{ name: 'cloud', url: 'mqtt://a', forward: [{ filter: 'a/#' }] }, { name: 'cloud', url: 'mqtt://b', forward: [{ filter: 'b/#' }] }], [], errors3);
  assert.equal(errors3, ['bridges[1].name: "cloud" is already the name of bridges[0]']);
});

bridges('the README example of the Upstream bridge section validates', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## Upstream bridge'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  const raw = parse(yaml) as { bridges: unknown };
  const errors: string[] = [];
  const out = validateBridgesWith({ CLOUD_PASSWORD: 'x' })('bridges', raw.bridges, [], errors);
  assert.equal(errors, []);
  assert.is(out[0]!.forward.length, 3);
  assert.is(out[0]!.forward[2]!.localPrefix, 'site/');
});

bridges.run();
