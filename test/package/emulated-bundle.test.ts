// Issue 18: the ARM bundles run. Each (arm64, armv7l) built by `npm run package` (scripts/package), unpacked from
// its tar.gz and started under qemu-user (qemu-aarch64-static, qemu-arm-static) on this x86 machine: a QoS 1
// message into a declared queue survives kill -9 and is consumed after the restart, from mosquitto's native clients on loopback; the payload store in use is
// the cross-compiled native one (not the TypeScript fallback); `wharf status` answers. Slow (emulated): each
// bundle built once, one data directory per bundle. Prints the start-up time and idle RSS as emulated figures.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requireTool } from '../helpers/tools.js';
import { builtPackage, type BuiltPackage } from './bundle-kit.js';
import { TARGETS, type PackageArch } from '../../scripts/package/targets.js';
import type { DoctorReport } from '../../src/doctor/types.js';
import { rssBytes, runBundle, startBundle, type EmulatedProcess } from './emulated-wharf.js';

const TOPIC = 'site/jobs';
const CONFIG = `listeners:\n  - { type: tcp, host: 127.0.0.1, port: 1883 }\n  - { type: ws, host: 127.0.0.1, port: 8083 }\nqueues:\n  definitions:\n    - { name: site-jobs, topicFilter: ${TOPIC} }\n`;

function emulatedSuite(arch: PackageArch): void {
  const t = TARGETS[arch];
  const test = suite(`package: ${arch} bundle under qemu`);
  const when = requireTool(test, t.qemu!.binary, `${t.triple}-gcc`, 'file', 'mosquitto_pub', 'mosquitto_sub');
  let pkg: BuiltPackage;
  let dir: string;
  let broker: EmulatedProcess | undefined;

  test.before(async () => {
    if (!when.available) return;
    pkg = await builtPackage(arch);
    dir = mkdtempSync(join(tmpdir(), `wharf-${arch}-`));
    writeFileSync(join(dir, 'wharf.yaml'), CONFIG);
  });

  test.after(async () => {
    await broker?.crash();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  when("the tar.gz unpacks to one folder with the launcher, the target's node and the app", () => {
    const b = pkg.unpacked;
    assert.ok(pkg.tarball.endsWith(`${pkg.bundleName}.tar.gz`));
    assert.match(pkg.bundleName, new RegExp(`^wharf-\\d+\\.\\d+\\.\\d+.*-linux-${arch}$`));
    for (const f of ['bin/wharf', 'node/bin/node', 'app/package.json']) assert.ok(existsSync(join(b, f)), f);
    assert.ok((statSync(join(b, 'bin', 'wharf')).mode & 0o111) !== 0, 'launcher executable');
    const app = JSON.parse(readFileSync(join(b, 'app', 'package.json'), 'utf8')) as { bin: { wharf: string }; devDependencies?: unknown };
    assert.ok(existsSync(join(b, 'app', app.bin.wharf)), 'bin.wharf is the entry point');
    assert.is(app.devDependencies, undefined);
    assert.not.ok(existsSync(join(b, 'app', 'node_modules', 'typescript')), 'no development dependencies');
    assert.match(execFileSync('file', ['-b', join(b, 'node', 'bin', 'node')], { encoding: 'utf8' }), t.fileSays);
    // What the build checked: the addon and LMDB's binary for the arch, nothing for another architecture.
    const paths = pkg.checked.map((c) => c.path);
    assert.ok(paths.some((p) => p.startsWith(`app/native/prebuilds/linux-${t.nodeArch}/`)), paths.join(' '));
    assert.ok(paths.some((p) => p.startsWith(`app/node_modules/@lmdb/lmdb-linux-${t.nodeArch}/`)), paths.join(' '));
    for (const c of pkg.checked) assert.match(c.description, t.fileSays, c.path);
  });

  when('wharf start under qemu: native payload store, a queued QoS 1 message survives kill -9, status answers', async () => {
    const data = join(dir, 'data');
    broker = await startBundle(pkg.unpacked, arch, join(dir, 'wharf.yaml'), data);
    process.stderr.write(`\n  ${arch} bundle under qemu (emulated figures): start-up ${broker.startMs} ms to MQTT port open\n`);
    assert.match(broker.output(), /payload store kind=native/, broker.output());
    assert.not.match(broker.output(), /fallback/);

    // mosquitto_pub returns once the PUBACK came, which Wharf sends after the commit.
    execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-i', `${arch}-pub`, '-t', TOPIC, '-m', 'job-1'], { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    process.stderr.write(`  idle RSS of ${t.qemu!.binary} running the bundle (emulated): ${(rssBytes(broker.child.pid!) / 1024 / 1024).toFixed(0)} MiB\n`);
    await broker.crash();

    broker = await startBundle(pkg.unpacked, arch, join(dir, 'wharf.yaml'), data);
    const got = execFileSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-i', `${arch}-sub`, '-t', `$q/${TOPIC}`, '-C', '1', '-W', '60'], { encoding: 'utf8', timeout: 70_000 });
    assert.is(got.trim(), 'job-1');

    const status = await runBundle(pkg.unpacked, arch, ['status', '--json', '--admin', `127.0.0.1:${broker.adminPort}`]);
    assert.is(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { health: { ready: boolean }; queues: number; store: { commits: number } };
    assert.ok(s.health.ready);
    assert.is(s.queues, 1);
    const exit = await broker.stop();
    broker = undefined;
    assert.is(exit.code, 0);
  });
  if (arch === 'arm64') {
    // The crash test's writer child is spawned with process.execPath: the ARM node, which this kernel cannot
    // start by itself (no binfmt). Without the wrapper the check says so; with it the writer runs emulated too.
    when('wharf doctor --crash-test under qemu: needs WHARF_DOCTOR_EXEC_WRAPPER, then passes', async () => {
      const data = join(dir, 'doctor');
      const plain = await runBundle(pkg.unpacked, arch, ['doctor', '--json', '--data', data, '--crash-rounds', '1'], 180_000);
      assert.is(plain.code, 1, plain.stderr);
      const failed = (JSON.parse(plain.stdout) as DoctorReport).checks.find((c) => c.name === 'crash-test')!;
      assert.is(failed.verdict, 'fail');
      assert.match(failed.summary, /WHARF_DOCTOR_EXEC_WRAPPER/);

      const env = { ...process.env, WHARF_DOCTOR_EXEC_WRAPPER: `${t.qemu!.binary} -L ${t.qemu!.sysroot}` };
      const wrapped = await runBundle(pkg.unpacked, arch, ['doctor', '--json', '--data', data, '--crash-rounds', '2'], 240_000, env);
      const report = JSON.parse(wrapped.stdout) as DoctorReport;
      const crash = report.checks.find((c) => c.name === 'crash-test')!;
      assert.is(crash.verdict, 'ok', crash.summary);
      assert.ok((crash.details as { acknowledged: number }).acknowledged > 0);
      assert.is(wrapped.code, report.verdict === 'fail' ? 1 : 0);
    });
  }

  test.run();
}

emulatedSuite('arm64');
emulatedSuite('armv7l');
