// scripts/install/wharf.service: the directives issue 18 asks for, read from the file the .deb installs
// (systemd-analyze verify runs on the installed copy in deb-x64.test.ts), and the exit codes it refers to.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StartExitCode } from '../../src/cli/exit-codes.js';

const test = suite('package: systemd unit');
const UNIT = fileURLToPath(new URL('../../../scripts/install/wharf.service', import.meta.url));

/** section -> key -> values (a key may repeat, as DeviceAllow does). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) sections.set(header[1]!, (current = new Map()));
    else {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return sections;
}

test('restart, bounded stop, journal, own user, state directory, hardening, serial devices only', () => {
  const svc = parseUnit(readFileSync(UNIT, 'utf8')).get('Service')!;
  const one = (k: string) => svc.get(k)?.[0];
  assert.is(one('Restart'), 'on-failure');
  assert.is(one('KillSignal'), 'SIGTERM');
  assert.match(one('TimeoutStopSec') ?? '', /^\d+s$/);
  assert.is(one('StandardOutput'), 'journal');
  assert.is(one('User'), 'wharf');
  assert.is(one('StateDirectory'), 'wharf');
  assert.match(one('ExecStart') ?? '', /^\/usr\/bin\/wharf start --config \/etc\/wharf\/wharf\.yaml --data \/var\/lib\/wharf$/);
  for (const [k, v] of [['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['NoNewPrivileges', 'yes'], ['PrivateTmp', 'yes'], ['DevicePolicy', 'closed']]) assert.is(one(k!), v, k);
  assert.equal(svc.get('DeviceAllow')!.map((d) => d.split(' ')[0]).sort(), ['char-ttyACM', 'char-ttyAMA', 'char-ttyS', 'char-ttyUSB']);
  assert.not.ok(svc.has('MemoryDenyWriteExecute'), "V8's JIT needs writable and executable pages");
  // Not restarted on what a restart cannot fix (src/cli/exit-codes.ts).
  const prevent = one('RestartPreventExitStatus')!.split(' ').map(Number);
  assert.ok(prevent.includes(StartExitCode.DataDir) && prevent.includes(StartExitCode.Config));
  assert.not.ok(prevent.includes(StartExitCode.Listener), 'a busy port may clear');
});

test.run();
