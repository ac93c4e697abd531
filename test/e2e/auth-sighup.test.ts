// End to end: `wharf start` with auth.passwordFile and auth.aclFile, used by mosquitto_pub/mosquitto_sub with
// user names and passwords made by mosquitto_passwd; SIGHUP takes an edited password file and ACL while a
// subscriber stays connected; the start warns about anonymous network listeners and names bad lines.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace } from '../helpers/broker-process.js';
import { requireTool, run, startProcess, waitFor } from '../helpers/tools.js';

const test = suite('e2e: auth files, mosquitto clients, SIGHUP');
const maybe = requireTool(test, 'mosquitto_passwd', 'mosquitto_pub', 'mosquitto_sub');

maybe('users from mosquitto_passwd publish and subscribe within their ACL; SIGHUP reloads both files without a drop', async () => {
  const ws = Workspace.create(undefined, '');
  const passwd = join(ws.dir, 'passwd');
  const acl = join(ws.dir, 'acl');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'sensor', 's3nsor']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'scada', 'sc4da']);
  writeFileSync(acl, 'user sensor\ntopic write plant/#\n\nuser scada\ntopic read plant/#\nbogus line\n');
  writeFileSync(ws.configPath, `listeners:\n  - { type: tcp, host: 127.0.0.1, port: 1883 }\n  - { type: ws, host: 127.0.0.1, port: 8083, path: /mqtt }\nauth:\n  passwordFile: ${passwd}\n  aclFile: ${acl}\n`);
  try {
    const broker = await ws.start({ logLevel: 'info' });
    assert.match(broker.output(), /ACL file line skipped.* line=6 /);
    assert.not.match(broker.output(), /accepts anonymous clients/);
    const common = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5'];
    const sub = startProcess('mosquitto_sub', [...common, '-u', 'scada', '-P', 'sc4da', '-i', 'scada-1', '-t', 'plant/#', '-v', '-q', '1']);
    try {
      // The subscription is in place once a publish reaches it: retry a marker until it arrives (bounded).
      const pub = (user: string, pw: string, topic: string, msg: string) => run('mosquitto_pub', [...common, '-u', user, '-P', pw, '-t', topic, '-m', msg, '-q', '1'], 5000);
      for (let i = 0; i < 50 && !sub.output().includes('plant/ready'); i++) {
        await pub('sensor', 's3nsor', 'plant/ready', `r${i}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(sub.output().includes('plant/ready'), sub.output());
      // Wrong password: mosquitto_pub reports the refusal and exits non-zero.
      const bad = await pub('sensor', 'wrong', 'plant/x', 'no');
      assert.is.not(bad.code, 0);
      assert.match(bad.stdout + bad.stderr, /bad user name or password/i);
      // scada may read but not write plant/#: its publish is refused (5.0 PUBACK 0x87); nothing is delivered.
      const denied = await pub('scada', 'sc4da', 'plant/from-scada', 'no');
      assert.not.match(sub.output(), /plant\/from-scada/, denied.stderr);

      // Edit both files: a new user, scada may now write plant/scada/#.
      execFileSync('mosquitto_passwd', ['-b', passwd, 'newbie', 'n3w']);
      writeFileSync(acl, 'user sensor\ntopic write plant/#\n\nuser scada\ntopic read plant/#\ntopic write plant/scada/#\n\nuser newbie\ntopic write plant/#\n');
      broker.child.kill('SIGHUP');
      await waitFor(() => /auth reloaded/.test(broker.output()), 5000, 'the reload');
      assert.is((await pub('newbie', 'n3w', 'plant/newbie', 'hello')).code, 0);
      assert.is((await pub('scada', 'sc4da', 'plant/scada/ok', 'allowed now')).code, 0);
      await waitFor(() => sub.output().includes('plant/scada/ok allowed now'), 5000, 'the delivery after the reload');
      assert.ok(sub.output().includes('plant/newbie hello'));
      // Later deliveries arrived, so the refused one before them would have too: it never did.
      assert.not.match(sub.output(), /plant\/from-scada/);
      assert.is(sub.child.exitCode, null, 'the subscriber stayed connected through the reload');
    } finally {
      sub.child.kill('SIGKILL');
      await sub.exited;
      await broker.stop();
    }
  } finally {
    await ws.dispose();
  }
});

test('the embedded default warns at start: its listeners accept anonymous clients from the network', async () => {
  const ws = Workspace.create();
  writeFileSync(ws.configPath, 'listeners:\n  - { type: tcp, host: 0.0.0.0, port: 1883 }\n  - { type: ws, host: 127.0.0.1, port: 8083, path: /mqtt }\n');
  try {
    const broker = await ws.start({ logLevel: 'warn' });
    await waitFor(() => /accepts anonymous clients/.test(broker.output()), 5000, 'the warning');
    // Only the network listener is named: the loopback one is reachable from the gateway alone.
    assert.match(broker.output(), /listener="tcp 0\.0\.0\.0:\d+"/);
    assert.not.match(broker.output(), /listener="ws 127/);
    await broker.stop();
  } finally {
    await ws.dispose();
  }
});

test.run();
