// Queue templates (src/queue/template.ts, the engine's instances, config validation): a topicFilter with a named
// level makes one queue per value; validated with key paths; limited by maxInstances; instances survive a reopen.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Message } from '../../src/protocol/message.js';
import { QueueEngine } from '../../src/queue/engine.js';
import { defaultTemplateName, fillName, matchFilterOf, templateLevels, valuesOf } from '../../src/queue/template.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../../src/queue/types.js';
import { Store } from '../../src/store/store.js';
import { removeTempDirs, tempDir } from '../store/helpers.js';

const test = suite('queue templates');

function msg(topic: string, payload: string): Message {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'test' };
}

function configErrors(def: Record<string, unknown>): string[] {
  const r = validateConfig({ queues: { definitions: [def] } });
  return 'errors' in r ? r.errors : [];
}

function configured(def: Record<string, unknown>): QueueDefinition {
  const r = validateConfig({ queues: { definitions: [def] } });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.config.queues.definitions[0]!;
}

test('a named level is read from the pattern; names and filters are made from the values', () => {
  assert.equal(templateLevels('lights/{id}/commands'), [{ index: 1, placeholder: 'id' }]);
  assert.equal(templateLevels('lights/+/commands'), []);
  assert.is(matchFilterOf('site/{site}/lights/{id}/#'), 'site/+/lights/+/#');
  assert.is(defaultTemplateName('lights/{id}/commands'), 'lights.{id}.commands');
  assert.is(fillName('lights.{id}.commands', { id: 'light-7' }), 'lights.light-7.commands');
  // A value outside name characters is escaped as queueNameFromFilter escapes filters.
  assert.is(fillName('lights.{id}.commands', { id: 'a b' }), 'lights.a_x20_b.commands');
  assert.equal(valuesOf('lights/light-7/commands'.split('/'), [{ index: 1, placeholder: 'id' }]), { id: 'light-7' });
  assert.is(valuesOf('lights//commands'.split('/'), [{ index: 1, placeholder: 'id' }]), undefined);
  assert.is(valuesOf('lights/+/commands'.split('/'), [{ index: 1, placeholder: 'id' }]), undefined);
});

test('the configuration validates a template like a definition, with key paths', () => {
  const t = configured({ topicFilter: 'lights/{id}/commands', type: 'lastvalue', key: 'topic', maxInstances: 100 });
  assert.is(t.name, 'lights.{id}.commands');
  assert.is(t.maxInstances, 100);
  assert.is(configured({ topicFilter: 'lights/{id}/commands' }).maxInstances, 1000, 'a default limit');
  assert.equal(configErrors({ topicFilter: 'lights/x{id}/commands' }), [
    'queues.definitions[0].topicFilter: a named level must be a whole level "{name}" (letters, digits, "_"); got "x{id}"; got "lights/x{id}/commands"',
  ]);
  assert.equal(configErrors({ topicFilter: 'lights/{id}/commands', name: 'lights' }), [
    'queues.definitions[0].name: must hold {id}, or two instances would share one name; got "lights"',
  ]);
  assert.equal(configErrors({ topicFilter: 'lights/{id}/commands', maxInstances: 0 }), ['queues.definitions[0].maxInstances: must be an integer 1-1000000; got 0']);
  assert.equal(configErrors({ topicFilter: 'lights/one/commands', maxInstances: 5 }), [
    'queues.definitions[0].maxInstances: only for queue templates (a topicFilter with a named level such as "lights/{id}/commands")',
  ]);
  assert.equal(configErrors({ topicFilter: '$q/{id}' }), [
    'queues.definitions[0].topicFilter: must be the topic filter itself, not a $share/, $q/ or $queue/ subscription; got "$q/+"',
  ]);
  assert.equal(configErrors({ topicFilter: 'lights/{id}/commands', type: 'lastvalue' }), [
    'queues.definitions[0].key: required for lastvalue queues (userProperty:<name>, topicLevel:<n>, topic, clientId or json:<dot.path>, or a list of them (a composite key))',
  ]);
});

async function openEngine(dir: string, defs: QueueDefinition[]): Promise<{ store: Store; engine: QueueEngine }> {
  const store = await Store.open({ dataDir: dir, commitIntervalMs: 2, minFreeDiskBytes: 0 });
  const engine = new QueueEngine(store, silentLogger, { autoCreate: false, defaults: DEFAULT_QUEUE_SETTINGS });
  const saves: Promise<void>[] = [];
  engine.track = (p) => void saves.push(p);
  await engine.load(defs);
  return { store, engine };
}

test('the first publish makes the instance with the template settings; beyond maxInstances 0x97; reopened they are still there', async () => {
  const dir = tempDir('queue-templates');
  const template = configured({ topicFilter: 'lights/{id}/commands', type: 'lastvalue', key: 'topic', maxInstances: 2, consumerInflight: 3 });
  let { store, engine } = await openEngine(dir, [template]);
  try {
    for (const id of ['light-1', 'light-2']) for (const colour of ['blue', 'red', 'green']) assert.is(engine.admit(msg(`lights/${id}/commands`, colour), true), null), engine.captureAdmitted(msg(`lights/${id}/commands`, colour));
    const q1 = engine.queueByName('lights.light-1.commands')!;
    assert.ok(q1, 'instance named from the template and the value');
    assert.is(q1.definition.topicFilter, 'lights/light-1/commands');
    assert.is(q1.definition.type, 'lastvalue');
    assert.is(q1.definition.consumerInflight, 3);
    assert.is(q1.definition.template, 'lights.{id}.commands');
    assert.equal(q1.definition.templateValues, { id: 'light-1' });
    assert.is(q1.depth, 1, 'last value: only green waits');
    const refusal = engine.admit(msg('lights/light-3/commands', 'blue'), true);
    assert.is(refusal?.reasonCode, 0x97);
    assert.is(refusal?.reason, 'instance_limit');
    assert.is(engine.queueByName('lights.light-3.commands'), undefined);
    // A consuming subscription beyond the limit is refused with the same reason.
    const resolved = await engine.resolve({ name: undefined, topicFilter: 'lights/light-4/commands' });
    assert.type(resolved, 'string');
    assert.equal(engine.templates(), [{ name: 'lights.{id}.commands', topicFilter: 'lights/{id}/commands', maxInstances: 2, instances: 2, refused: 2, open: true }]);
    await store.flush();
    engine.stop();
    await store.close();
    ({ store, engine } = await openEngine(dir, [template]));
    const again = engine.queueByName('lights.light-2.commands')!;
    assert.ok(again, 'the instance was loaded from the store');
    assert.is(again.depth, 1);
    assert.is(engine.templates()[0]!.instances, 2, 'loaded instances count against maxInstances');
    assert.is(engine.admit(msg('lights/light-3/commands', 'blue'), true)?.reasonCode, 0x97);
    // `$q/lights/light-2/commands` consumes exactly that instance.
    assert.is(await engine.resolve({ name: undefined, topicFilter: 'lights/light-2/commands' }), again);
    // Deleting an instance frees its place.
    await engine.delete('lights.light-1.commands');
    assert.is(engine.admit(msg('lights/light-3/commands', 'blue'), true), null);
    engine.captureAdmitted(msg('lights/light-3/commands', 'blue'));
    assert.ok(engine.queueByName('lights.light-3.commands'));
  } finally {
    engine.stop();
    await store.close();
    removeTempDirs();
  }
});

test('a subscription makes the instance; a declared queue on the same filter is the instance (no second copy)', async () => {
  const dir = tempDir('queue-templates');
  const template = configured({ topicFilter: 'rooms/{room}/alerts', maxInstances: 5 });
  const declared = configured({ topicFilter: 'rooms/kitchen/alerts', name: 'kitchen' });
  const { store, engine } = await openEngine(dir, [declared, template]);
  try {
    const hall = await engine.resolve({ name: undefined, topicFilter: 'rooms/hall/alerts' });
    assert.is(typeof hall === 'object' && hall.name, 'rooms.hall.alerts');
    // A wildcard elsewhere is not one instance: no queue is made (autoCreate is off here).
    assert.type(await engine.resolve({ name: undefined, topicFilter: 'rooms/+/alerts' }), 'string');
    assert.is(engine.admit(msg('rooms/kitchen/alerts', 'smoke'), true), null);
    assert.is(engine.captureAdmitted(msg('rooms/kitchen/alerts', 'smoke')), 1, 'captured once, by the declared queue');
    assert.is(engine.queueByName('kitchen')!.depth, 1);
    assert.is(engine.queueByName('rooms.kitchen.alerts'), undefined);
  } finally {
    engine.stop();
    await store.close();
    removeTempDirs();
  }
});

test.run();
