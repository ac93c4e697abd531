// ACL file parsing and decisions: Mosquitto's user/topic/pattern lines, deny over grants, `$` topics, filter
// coverage for SUBSCRIBE, queue rules with %u/%c, and the per-session decision cache across a reload.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AclFile } from '../../src/auth/acl.js';
import { SessionAcl } from '../../src/auth/session-acl.js';
import { filterCovers } from '../../src/auth/filter-cover.js';

const test = suite('auth: ACL file');

const FILE = `
# anonymous clients
topic read public/#

user alice
topic readwrite sensors/#
topic deny sensors/secret
topic write cmd/+/set
topic read $SYS/broker/uptime
queue consume jobs
queue all alice-*

user bob
topic sensors/#
topic read #

pattern read devices/%u/#
pattern write clients/%c/status
queuepattern all inbox-%u
`;

const acl = AclFile.parse(FILE);
const session = (user: string | undefined, clientId = 'c1') => new SessionAcl(acl, user, clientId);

test('the file parses without problems; bad lines are named by number', () => {
  assert.equal(acl.problems, []);
  const bad = AclFile.parse('topic read a/#\nfrobnicate x\ntopic read a/#/b\nqueue eat q\nuser\n');
  assert.equal(
    bad.problems.map((p) => p.line),
    [2, 3, 4, 5],
  );
});

test('anonymous rules are those before the first user line', () => {
  const anon = session(undefined);
  assert.ok(anon.canRead('public/x'));
  assert.not.ok(anon.canWrite('public/x'));
  assert.not.ok(anon.canRead('sensors/t'));
  // %u patterns give a client without a user name nothing.
  assert.not.ok(anon.canRead('devices/undefined/x'));
});

test('readwrite, write-only and deny; deny wins wherever it is written', () => {
  const a = session('alice');
  assert.ok(a.canWrite('sensors/t'));
  assert.ok(a.canRead('sensors/t'));
  assert.not.ok(a.canRead('sensors/secret'));
  assert.not.ok(a.canWrite('sensors/secret'));
  assert.ok(a.canWrite('cmd/pump/set'));
  assert.not.ok(a.canRead('cmd/pump/set'));
  assert.not.ok(a.canWrite('cmd/pump/get'));
  // `topic <filter>` without an access word is readwrite.
  assert.ok(session('bob').canWrite('sensors/x'));
});

test('$ topics only match rules whose filter starts with $', () => {
  assert.not.ok(session('bob').canRead('$SYS/broker/uptime'));
  assert.ok(session('bob').canRead('anything/else'));
  assert.ok(session('alice').canRead('$SYS/broker/uptime'));
  assert.not.ok(session('alice').canSubscribe('$SYS/#'));
  assert.ok(session('alice').canSubscribe('$SYS/broker/uptime'));
  assert.not.ok(session('bob').canSubscribe('$SYS/#'));
});

test('SUBSCRIBE needs a read rule covering the whole filter; a deny rule covering it refuses it', () => {
  const a = session('alice');
  assert.ok(a.canSubscribe('sensors/#'));
  assert.ok(a.canSubscribe('sensors/+/t'));
  assert.not.ok(a.canSubscribe('#'));
  assert.not.ok(a.canSubscribe('sensors/secret'));
  assert.not.ok(a.canSubscribe('cmd/+/set'), 'write-only');
  assert.ok(session('bob').canSubscribe('#'));
});

test('patterns fill in %u and %c, and never with a value holding a wildcard or a slash', () => {
  assert.ok(session('carol', 'dev-9').canRead('devices/carol/temp'));
  assert.not.ok(session('carol', 'dev-9').canRead('devices/dave/temp'));
  assert.ok(session('carol', 'dev-9').canWrite('clients/dev-9/status'));
  assert.not.ok(session('carol', '+').canWrite('clients/+/status'));
  assert.not.ok(session('a/b', 'x').canRead('devices/a/b/x'));
});

test('queue rules: consume, all, prefixes and patterns', () => {
  const a = session('alice');
  assert.ok(a.canConsume('jobs'));
  assert.not.ok(a.canCreate('jobs'));
  assert.ok(a.canCreate('alice-work') && a.canConsume('alice-work'));
  assert.ok(a.canCreate('inbox-alice'));
  assert.not.ok(a.canConsume('inbox-bob'));
  assert.not.ok(session('bob').canConsume('jobs'));
});

test('filter coverage', () => {
  assert.ok(filterCovers('a/#', 'a'));
  assert.ok(filterCovers('a/#', 'a/b/#'));
  assert.ok(filterCovers('a/+', 'a/+'));
  assert.not.ok(filterCovers('a/+', 'a/#'));
  assert.not.ok(filterCovers('a/b', 'a/+'));
  assert.not.ok(filterCovers('a', 'a/b'));
  assert.not.ok(filterCovers('#', '$SYS/x'));
  assert.not.ok(filterCovers('+/x', '$SYS/x'));
});

test('a reload replaces the rules and forgets cached decisions', () => {
  const a = session('alice');
  assert.ok(a.canWrite('sensors/t'));
  a.reload(AclFile.parse('user alice\ntopic read sensors/#\n'));
  assert.not.ok(a.canWrite('sensors/t'));
  assert.ok(a.canRead('sensors/t'));
});

test.run();
