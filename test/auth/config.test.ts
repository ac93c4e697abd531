// The auth section and the listeners' client-certificate keys: key-path errors and the allowed combinations.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';

const test = suite('auth: configuration');

const errs = (raw: unknown) => {
  const r = validateConfig(raw);
  return 'errors' in r ? r.errors : [];
};
const ok = (raw: unknown) => {
  const r = validateConfig(raw);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.config;
};
const TLS = { type: 'tls', port: 8883, cert: 'c.pem', key: 'k.pem' };

test('auth keys are validated with their paths', () => {
  assert.equal(ok({ auth: { passwordFile: '/etc/wharf/passwd', aclFile: '/etc/wharf/acl', allowAnonymous: false } }).auth, {
    passwordFile: '/etc/wharf/passwd',
    aclFile: '/etc/wharf/acl',
    allowAnonymous: false,
  });
  assert.equal(errs({ auth: { allowAnonymous: 'no' } }), ['auth.allowAnonymous: must be true or false; got "no"']);
  assert.match(errs({ auth: { passwordFile: 3 } })[0]!, /^auth\.passwordFile: /);
  assert.match(errs({ auth: { users: [] } })[0]!, /^auth\.users: unknown key \(allowed: allowAnonymous, passwordFile, aclFile\)/);
});

test('requireCertificate needs tls/wss and ca; useIdentityAsUsername needs requireCertificate', () => {
  assert.equal(ok({ listeners: [{ ...TLS, ca: 'ca.pem', requireCertificate: true, useIdentityAsUsername: true }] }).listeners[0]!.useIdentityAsUsername, true);
  assert.equal(errs({ listeners: [{ type: 'tcp', port: 1883, requireCertificate: true }] }), ['listeners[0].requireCertificate: only allowed on tls and wss listeners; this listener is tcp']);
  assert.equal(errs({ listeners: [{ ...TLS, requireCertificate: true }] }), ['listeners[0].requireCertificate: needs listeners[0].ca, the PEM bundle of the CA that signs client certificates']);
  assert.match(errs({ listeners: [{ ...TLS, ca: 'ca.pem', useIdentityAsUsername: true }] })[0]!, /^listeners\[0\]\.useIdentityAsUsername: needs listeners\[0\]\.requireCertificate: true/);
});

test('mqtt limits: maxConnections, connectTimeout (a duration, not 0), maxPendingConnectionsPerAddress', () => {
  const c = ok({ mqtt: { maxConnections: 500, connectTimeout: '5s', maxPendingConnectionsPerAddress: 8 } });
  assert.equal([c.mqtt.maxConnections, c.mqtt.connectTimeout, c.mqtt.maxPendingConnectionsPerAddress], [500, 5000, 8]);
  assert.match(errs({ mqtt: { connectTimeout: 0 } })[0]!, /^mqtt\.connectTimeout: must be a duration of at least 1ms/);
  assert.match(errs({ mqtt: { connectTimeout: 10 } })[0]!, /^mqtt\.connectTimeout: .*a unit is required/);
  assert.match(errs({ mqtt: { maxConnections: 0 } })[0]!, /^mqtt\.maxConnections: /);
});

test('bridges[].localUsername: the local user whose write rights the downlink needs; unset, the bridge is trusted', () => {
  const bridge = { name: 'cloud', url: 'mqtt://127.0.0.1:1883', subscribe: [{ filter: 'c/#', qos: 1 }] };
  assert.is(ok({ bridges: [{ ...bridge, localUsername: 'site-bridge' }] }).bridges[0]!.localUsername, 'site-bridge');
  assert.is(ok({ bridges: [bridge] }).bridges[0]!.localUsername, undefined);
  assert.match(errs({ bridges: [{ ...bridge, localUsername: 7 }] })[0]!, /^bridges\[0\]\.localUsername: /);
});

test.run();
