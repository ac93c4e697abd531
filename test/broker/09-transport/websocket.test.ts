// MQTT over WebSocket (MQTT 5.0 chapter 6): MQTT.js over ws:// talking to TCP clients both ways, the "mqtt"
// subprotocol, packets not aligned on frame boundaries, binary frames only, and plain HTTP answered with 426.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { collect, connectClient, endClient } from '../../helpers/mqttjs.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('09-transport: WebSocket');

async function withBroker(fn: (tb: TestBroker) => Promise<void>): Promise<void> {
  const tb = await startBroker();
  try {
    await fn(tb);
  } finally {
    await tb.stop();
  }
}

for (const protocolVersion of [5, 4] as const) {
  const v = protocolVersion === 5 ? '5.0' : '3.1.1';
  for (const [pubVia, subVia] of [['tcp', 'ws'], ['ws', 'tcp']] as const) {
    test(`${pubVia.toUpperCase()} publisher -> ${subVia.toUpperCase()} subscriber, QoS 0/1/2 and retained (MQTT.js, ${v})`, () =>
      withBroker(async (tb) => {
        const url = (via: 'tcp' | 'ws') => (via === 'ws' ? tb.wsUrl : tb.url);
        const sub = await connectClient(url(subVia), { protocolVersion, clientId: `sub-${subVia}` });
        const pub = await connectClient(url(pubVia), { protocolVersion, clientId: `pub-${pubVia}` });
        try {
          const inbox = collect(sub);
          await sub.subscribeAsync('t/#', { qos: 2 });
          for (const qos of [0, 1, 2] as const) await pub.publishAsync(`t/q${qos}`, `via ${pubVia} qos ${qos}`, { qos });
          await inbox.waitCount(3);
          assert.equal(
            inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos]),
            [0, 1, 2].map((q) => [`t/q${q}`, `via ${pubVia} qos ${q}`, q]),
          );
          // A retained message set over one transport is delivered on a new subscription over the other.
          await pub.publishAsync('r/x', 'kept', { qos: 1, retain: true });
          await sub.subscribeAsync('r/#', { qos: 1 });
          await inbox.waitCount(4);
          assert.equal([inbox.messages[3]!.topic, inbox.messages[3]!.payload, inbox.messages[3]!.packet.retain], ['r/x', 'kept', true]);
        } finally {
          await endClient(pub, true);
          await endClient(sub, true);
        }
      }),
    );
  }
}

/** Opens a raw WebSocket to the broker; resolves once open (or rejects with the handshake error). */
function openWs(tb: TestBroker, protocols: string[]): Promise<WebSocket> {
  const ws = new WebSocket(tb.wsUrl, protocols);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Collects the MQTT packets arriving over a raw WebSocket. */
function packetsOf(ws: WebSocket, version: 4 | 5) {
  const packets: Packet[] = [];
  const parser = mqtt.parser({ protocolVersion: version });
  parser.on('packet', (p: Packet) => packets.push(p));
  ws.on('message', (data: Buffer) => parser.parse(data));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  return { packets, closed };
}

function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.terminate();
  });
}

const connectPacket = (clientId: string) =>
  mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId } as Packet, { protocolVersion: 5 });

test('a raw ws client offering "mqtt" gets "mqtt" as the negotiated subprotocol [MQTT-6.0.0-4] and a CONNACK', () =>
  withBroker(async (tb) => {
    const ws = await openWs(tb, ['mqtt']);
    try {
      assert.is(ws.protocol, 'mqtt');
      const rx = packetsOf(ws, 5);
      ws.send(connectPacket('raw-ws'), { binary: true });
      await waitFor(() => rx.packets.length === 1, 2000, 'CONNACK');
      assert.equal([rx.packets[0]!.cmd, (rx.packets[0] as mqtt.IConnackPacket).reasonCode], ['connack', 0]);
    } finally {
      await closeWs(ws);
    }
  }),
);

test('"mqtt" is chosen when offered among other subprotocols', () =>
  withBroker(async (tb) => {
    const ws = await openWs(tb, ['chat', 'mqtt']);
    try {
      assert.is(ws.protocol, 'mqtt');
    } finally {
      await closeWs(ws);
    }
  }),
);

test('a client offering only a foreign subprotocol is not given it: the server selects only "mqtt" [MQTT-6.0.0-4]', () =>
  withBroker(async (tb) => {
    const err = await openWs(tb, ['chat']).then(
      (ws) => closeWs(ws).then(() => new Error(`opened with subprotocol "${ws.protocol}"`)),
      (e: Error) => e,
    );
    assert.match(err.message, 'Server sent no subprotocol');
    await waitFor(() => tb.broker.connections.size === 0, 2000, 'the connection to be released');
  }),
);

test('MQTT packets split across frames and coalesced in one frame are both handled [MQTT-6.0.0-2]', () =>
  withBroker(async (tb) => {
    const ws = await openWs(tb, ['mqtt']);
    try {
      const rx = packetsOf(ws, 5);
      const connect = connectPacket('split');
      // CONNECT in three frames of 1, 4 and the rest bytes.
      ws.send(connect.subarray(0, 1), { binary: true });
      ws.send(connect.subarray(1, 5), { binary: true });
      ws.send(connect.subarray(5), { binary: true });
      // SUBSCRIBE and PINGREQ together in one frame.
      const subscribe = mqtt.generate({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'x', qos: 1 }] } as Packet, { protocolVersion: 5 });
      ws.send(Buffer.concat([subscribe, Buffer.from([0xc0, 0x00])]), { binary: true });
      await waitFor(() => rx.packets.length === 3, 2000, 'CONNACK, SUBACK and PINGRESP');
      assert.equal(rx.packets.map((p) => p.cmd), ['connack', 'suback', 'pingresp']);
      assert.equal((rx.packets[1] as mqtt.ISubackPacket).granted, [1]);
    } finally {
      await closeWs(ws);
    }
  }),
);

test('a text data frame closes the connection without processing it [MQTT-6.0.0-1]', () =>
  withBroker(async (tb) => {
    const ws = await openWs(tb, ['mqtt']);
    try {
      const rx = packetsOf(ws, 5);
      ws.send(connectPacket('text-frame').toString('latin1'), { binary: false });
      await rx.closed;
      assert.equal(rx.packets, []);
      await waitFor(() => tb.broker.connections.size === 0, 2000, 'the connection to be released');
      assert.is(tb.broker.sessions.size, 0, 'the CONNECT in the text frame created no session');
    } finally {
      await closeWs(ws);
    }
  }),
);

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

test('a plain HTTP GET on the WebSocket port is answered 426 Upgrade Required', () =>
  withBroker(async (tb) => {
    for (const path of ['/mqtt', '/']) {
      const res = await httpGet(tb.wsPort, path);
      assert.is(res.status, 426, path);
      assert.match(res.body, 'upgrade required');
    }
    assert.is(tb.broker.connections.size, 0);
  }),
);

test.run();
