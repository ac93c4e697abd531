// mqtt-packet's parser gets bl's plain BufferList instead of its Duplex stream (src/protocol/lean-bl.ts), so that
// readable-stream is never loaded by the broker (issue 13: idle memory). In a child process: the swap is decided
// once per process, when the codec loads, and other tests load MQTT.js (and readable-stream) into this one.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('protocol: mqtt-packet without bl streams');
const codec = fileURLToPath(new URL('../../src/protocol/codec.js', import.meta.url));

test('the codec loads no stream module of bl and parses a packet split across chunks', () => {
  const script = `
    const { createRequire } = require('node:module');
    import(${JSON.stringify(codec)}).then((m) => {
      const req = createRequire(require.resolve('mqtt-packet'));
      const loaded = Object.keys(require.cache).filter((k) => /[\\\\/]readable-stream[\\\\/]/.test(k));
      // mqtt-packet's own parser too, not only the codec's, takes bytes across chunks.
      const own = req('./parser').parser({ protocolVersion: 4 });
      const packets = [];
      own.on('packet', (p) => packets.push(p.cmd + ':' + p.topic + ':' + p.payload.toString()));
      const publish = Buffer.from([0x30, 0x08, 0x00, 0x01, 0x74, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
      own.parse(publish.subarray(0, 3));
      own.parse(publish.subarray(3));
      let parsed = '';
      const parser = m.createPacketParser(1024, (p) => (parsed = p.cmd), (e) => (parsed = 'error ' + e.message));
      parser.parse(Buffer.from([0xc0]));
      parser.parse(Buffer.from([0x00]));
      console.log(JSON.stringify({ loaded, packets, parsed, list: own._list.constructor.name }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { loaded: string[]; packets: string[]; parsed: string; list: string };
  assert.equal(out.loaded, [], r.stderr);
  assert.is(out.list, 'BufferList');
  assert.equal(out.packets, ['publish:t:hello']);
  assert.is(out.parsed, 'pingreq');
});

test.run();
