// Issue 18: the x64 .deb on this machine. Installed offline with dpkg -i: files in place, the wharf system user
// in dialout, the conffile, a data directory only wharf can enter, a unit systemd-analyze accepts. Wharf runs
// from /usr/bin as wharf against /var/lib/wharf. A reinstall (the upgrade path: prerm upgrade, postinst configure
// with the old version) keeps a changed configuration and the data; remove keeps both; purge leaves nothing.
// Changes the machine (a package, a user): root only; skipped loudly otherwise, a failure under CI=true.

import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import { EMBEDDED_MALLOC_ENV } from '../../src/cli/malloc-env.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, portAccepts } from '../helpers/broker-process.js';
import { requireAvailable, requireTool } from '../helpers/tools.js';
import { builtPackage, type BuiltPackage } from './bundle-kit.js';

const test = suite('package: x64 .deb installed with dpkg');
const tools = requireTool(test, 'dpkg', 'dpkg-deb', 'systemd-analyze', 'setpriv', 'file', 'mosquitto_pub', 'mosquitto_sub');
const when = tools.available ? requireAvailable(test, process.getuid?.() === 0 ? undefined : 'not root (dpkg -i needs it)') : tools;

const LEFT_BEHIND = ['/opt/wharf', '/etc/wharf', '/var/lib/wharf', '/usr/bin/wharf', '/lib/systemd/system/wharf.service', '/etc/systemd/system/multi-user.target.wants/wharf.service', '/var/lib/systemd/deb-systemd-helper-enabled/wharf.service.dsh-also'];

let pkg: BuiltPackage;

/** dpkg, waiting (bounded) while another apt/dpkg holds its lock. */
function dpkg(...args: string[]): string {
  for (let attempt = 0; ; attempt++) {
    try {
      return execFileSync('dpkg', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      if (attempt < 30 && /lock/.test(e.stderr ?? '')) {
        execFileSync('sleep', ['2']);
        continue;
      }
      throw new Error(`dpkg ${args.join(' ')}: ${e.stderr ?? e.message}`);
    }
  }
}

const installed = (): boolean => {
  try {
    return /install ok installed/.test(execFileSync('dpkg-query', ['-W', '-f=${Status}', 'wharf'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
};
const userExists = (name: string, db = 'passwd'): boolean => {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** /usr/bin/wharf start as the wharf user (setpriv: with its groups, dialout included), on free ports. */
async function startInstalled(): Promise<{ port: number; adminPort: number; pid: number; output: () => string; stop: () => Promise<number | null> }> {
  const [port, wsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const args = ['--reuid=wharf', '--regid=wharf', '--init-groups', '/usr/bin/wharf', 'start', '--config', '/etc/wharf/wharf.yaml', '--data', '/var/lib/wharf', '--port', String(port), '--ws-port', String(wsPort), '--admin', `127.0.0.1:${adminPort}`];
  const child = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (child.exitCode === null && Date.now() < deadline && !(await portAccepts(port))) await new Promise((r) => setTimeout(r, 50));
  if (!(await portAccepts(port))) {
    child.kill('SIGKILL');
    throw new Error(`installed wharf did not start: ${out}`);
  }
  return {
    port,
    adminPort,
    pid: child.pid!,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

test.before(async () => {
  if (!when.available) return;
  // What a run killed half-way (or a broken postrm) left: this test checks that purge leaves nothing.
  if (installed()) dpkg('--purge', 'wharf');
  rmSync('/var/lib/wharf', { recursive: true, force: true });
  rmSync('/etc/wharf', { recursive: true, force: true });
  if (userExists('wharf')) execFileSync('userdel', ['wharf']);
  if (userExists('wharf', 'group')) execFileSync('groupdel', ['wharf']);
  pkg = await builtPackage('x64', true);
});

test.after(() => {
  if (when.available && installed()) dpkg('--purge', 'wharf');
});

when('dpkg -i: the bundle under /opt/wharf, /usr/bin/wharf, the conffile, the wharf user in dialout, the unit', () => {
  assert.match(pkg.deb!, /wharf_\d+\.\d+\.\d+[^_]*_amd64\.deb$/);
  const fields = execFileSync('dpkg-deb', ['-f', pkg.deb!, 'Package', 'Architecture'], { encoding: 'utf8' });
  assert.match(fields, /Package: wharf\nArchitecture: amd64/);
  dpkg('-i', pkg.deb!);
  assert.ok(installed());
  for (const f of ['/opt/wharf/bin/wharf', '/opt/wharf/node/bin/node', '/opt/wharf/app/package.json', '/lib/systemd/system/wharf.service']) assert.ok(existsSync(f), f);
  assert.ok(lstatSync('/usr/bin/wharf').isSymbolicLink());
  assert.is(readlinkSync('/usr/bin/wharf'), '/opt/wharf/bin/wharf');
  const conffiles = execFileSync('dpkg-query', ['-W', '-f=${Conffiles}', 'wharf'], { encoding: 'utf8' });
  assert.match(conffiles, /\/etc\/wharf\/wharf\.yaml [0-9a-f]{32}/);
  assert.match(readFileSync('/etc/wharf/wharf.yaml', 'utf8'), /^# board: /m);
  assert.match(execFileSync('id', ['-nG', 'wharf'], { encoding: 'utf8' }), /\bdialout\b/);
  const uid = Number(execFileSync('id', ['-u', 'wharf'], { encoding: 'utf8' }));
  const data = statSync('/var/lib/wharf');
  assert.is(data.uid, uid);
  assert.is(data.mode & 0o777, 0o750);
  // Enabled at boot as Debian does it (deb-systemd-helper), though no systemd runs here.
  assert.ok(existsSync('/etc/systemd/system/multi-user.target.wants/wharf.service'));
  const verify = execFileSync('sh', ['-c', 'systemd-analyze verify /lib/systemd/system/wharf.service 2>&1; echo "rc=$?"'], { encoding: 'utf8' });
  assert.match(verify, /rc=0\s*$/, verify);
  assert.not.match(verify, /wharf\.service:\d+/, verify);
});

when('wharf runs from /usr/bin as the wharf user against /var/lib/wharf; status answers', async () => {
  const w = await startInstalled();
  try {
    const uid = execFileSync('id', ['-u', 'wharf'], { encoding: 'utf8' }).trim();
    assert.match(readFileSync(`/proc/${w.pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
    // The launcher's malloc settings reach the broker process (src/cli/malloc-env.ts).
    const environ = readFileSync(`/proc/${w.pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(EMBEDDED_MALLOC_ENV)) assert.ok(environ.includes(`${name}=${value}`), `${name}=${value} in ${environ.join(' ')}`);
    assert.match(w.output(), /dataDir=\/var\/lib\/wharf config=\/etc\/wharf\/wharf\.yaml/);
    assert.match(w.output(), /payload store kind=native/);
    execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(w.port), '-q', '1', '-r', '-t', 'site/state', '-m', 'kept'], { timeout: 10_000 });
    const status = execFileSync('/usr/bin/wharf', ['status', '--json', '--admin', `127.0.0.1:${w.adminPort}`], { encoding: 'utf8' });
    assert.is((JSON.parse(status) as { retained: number }).retained, 1);
  } finally {
    assert.is(await w.stop(), 0);
  }
  const owned = readdirSync('/var/lib/wharf').map((f) => statSync(`/var/lib/wharf/${f}`).uid);
  assert.ok(owned.length > 0 && owned.every((u) => u === statSync('/var/lib/wharf').uid), 'data written by wharf');
});

when('reinstall (upgrade path) keeps a changed configuration and the data', async () => {
  appendFileSync('/etc/wharf/wharf.yaml', '# changed on this gateway\n');
  dpkg('-i', pkg.deb!);
  assert.match(readFileSync('/etc/wharf/wharf.yaml', 'utf8'), /# changed on this gateway/);
  const w = await startInstalled();
  try {
    const got = execFileSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(w.port), '-t', 'site/state', '-C', '1', '-W', '10'], { encoding: 'utf8', timeout: 15_000 });
    assert.is(got.trim(), 'kept');
  } finally {
    assert.is(await w.stop(), 0);
  }
});

when('dpkg -r keeps data and configuration; dpkg --purge leaves nothing behind', () => {
  dpkg('-r', 'wharf');
  assert.not.ok(existsSync('/opt/wharf'));
  assert.not.ok(existsSync('/usr/bin/wharf'));
  assert.ok(existsSync('/etc/wharf/wharf.yaml'));
  assert.ok(readdirSync('/var/lib/wharf').length > 0);
  dpkg('--purge', 'wharf');
  for (const f of LEFT_BEHIND) assert.not.ok(existsSync(f), `${f} left behind`);
  assert.not.ok(userExists('wharf'), 'user wharf left behind');
  assert.not.ok(userExists('wharf', 'group'), 'group wharf left behind');
  assert.not.ok(installed());
});

test.run();
