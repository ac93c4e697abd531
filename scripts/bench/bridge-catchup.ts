// Bridge catch-up (issue 16): N × SIZE-byte QoS 1 messages are published into a gateway while its link to the
// upstream is down (a TCP proxy refusing), then the link returns: time until the upstream has all of them, lost,
// duplicates, and bytes the gateway wrote per message while the backlog built (/proc/<pid>/io write_bytes).
// Wharf (a `wharf start` process with a bridge) and Mosquitto 2.0 configured as a bridge (persistence true,
// cleansession false, max_queued_messages/bytes 0 = no limit) run against the same upstream Mosquitto.
//
//   node dist/scripts/bench/bridge-catchup.js [--messages 100000] [--size 256] [--peers wharf,mosquitto] [--crash true] [--inflight 64] [--json FILE]
// --crash true: the gateway is killed with SIGKILL once the backlog is built and restarted before the link returns.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { readFlags } from './cli-args.js';
import { freePort, readWriteBytes } from './peers.js';
import { writeJsonRecord } from './standalone.js';
import { TcpProxy } from '../../test/helpers/tcp-proxy.js';

const USAGE = 'usage: node dist/scripts/bench/bridge-catchup.js [--messages N] [--size BYTES] [--peers wharf,mosquitto] [--crash true|false] [--inflight N] [--json FILE]';
const WHARF_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MOSQUITTO = '/usr/sbin/mosquitto';
type Peer = 'wharf' | 'mosquitto';
/** Messages in flight upstream, the same for both gateways (Wharf `outbox.inflight`, Mosquitto `max_inflight_messages`). */
let INFLIGHT = 64;
/** Bounds of each phase: a run that stalls reports what it got by then instead of hanging. */
const PUBLISH_LIMIT_MS = 300_000;
const DRAIN_LIMIT_MS = 300_000;

let messages = 100_000;
let size = 256;
let peers: Peer[] = ['wharf', 'mosquitto'];
let jsonPath: string | undefined;
/** SIGKILL the gateway once the backlog is built (before the link returns) and start it again on the same data. */
let crash = false;
readFlags(process.argv.slice(2), USAGE, (flag, v) => {
  if (flag === '--messages') messages = v.int(1, 10_000_000);
  else if (flag === '--size') size = v.int(16, 1024 * 1024);
  else if (flag === '--peers') peers = v.oneOrMoreOf(['wharf', 'mosquitto'] as const);
  else if (flag === '--json') jsonPath = v.text();
  else if (flag === '--crash') crash = v.text() === 'true';
  else if (flag === '--inflight') INFLIGHT = v.int(1, 65535);
  else return false;
  return true;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function startProcess(cmd: string, args: string[], cwd: string): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitPort(port: number, what: string, output: () => string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await accepts(port)) return;
    await sleep(20);
  }
  throw new Error(`${what} did not start: ${output()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('close', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

interface Gateway {
  child: ChildProcess;
  port: number;
}

async function startWharf(dir: string, proxyPort: number, given?: number): Promise<Gateway> {
  const port = given ?? (await freePort());
  const config = join(dir, 'wharf.yaml');
  writeFileSync(
    config,
    `listeners:\n  - { type: tcp, host: 127.0.0.1, port: ${port} }\nbridges:\n  - name: cloud\n    url: mqtt://127.0.0.1:${proxyPort}\n` +
      `    clientId: gw-wharf\n    reconnectMinDelay: 200ms\n    reconnectMaxDelay: 1s\n    forward:\n      - { filter: bench/#, qos: 1 }\n` +
      `    outbox: { maxMessages: 0, maxBytes: 4GiB, inflight: ${INFLIGHT} }\n`,
  );
  // BENCH_WHARF_NODE_ARGS: extra node flags for the gateway (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.BENCH_WHARF_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const p = startProcess(process.execPath, [...nodeArgs, WHARF_MAIN, 'start', '--config', config, '--port', String(port), '--data', join(dir, 'data'), '--log-level', 'warn', '--admin', '127.0.0.1:0'], dir);
  await waitPort(port, 'wharf', p.output);
  return { child: p.child, port };
}

async function startMosquittoBridge(dir: string, proxyPort: number, given?: number): Promise<Gateway> {
  const port = given ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\n` +
      `max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages ${INFLIGHT}\n` +
      `connection cloud\naddress 127.0.0.1:${proxyPort}\ntopic bench/# out 1\ncleansession false\nclientid gw-mosquitto\n` +
      `restart_timeout 1\ntry_private false\n`,
  );
  const p = startProcess(MOSQUITTO, ['-c', conf], dir);
  await waitPort(port, 'mosquitto bridge', p.output);
  return { child: p.child, port };
}

/** Publishes `n` QoS 1 messages of `size` bytes (sequence number first) with a window below the gateway's Receive Maximum. */
async function publishBacklog(port: number, n: number): Promise<void> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, clientId: `bench-pub-${process.pid}` });
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const window = Math.min(500, connack.properties?.receiveMaximum ?? 500);
  const filler = Buffer.alloc(size, 0x61);
  let next = 0;
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    let inflight = 0;
    const pump = (): void => {
      while (inflight < window && next < n) {
        const payload = Buffer.from(filler);
        payload.write(String(next).padStart(9, '0'));
        next++;
        inflight++;
        client.publish('bench/x', payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          inflight--;
          if (next >= n && inflight === 0) resolve();
          else pump();
        });
      }
      if (Date.now() - started > PUBLISH_LIMIT_MS) reject(new Error('publishing took too long'));
    };
    pump();
  });
  await client.endAsync();
}

/**
 * Counts what the upstream delivers: unique sequence numbers, duplicates, first and last arrival. A raw MQTT 3.1.1
 * subscriber (mqtt-packet over a socket, the PUBACKs of one read in one write) so that counting 30,000 messages a
 * second does not make this process, which also runs the proxy, the bottleneck.
 */
class Counter {
  private readonly seen = new Uint8Array(messages);
  unique = 0;
  duplicates = 0;
  firstAt = 0;
  lastAt = 0;
  private constructor(private readonly socket: net.Socket) {}

  static async connect(port: number): Promise<Counter> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const counter = new Counter(socket);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const acks: Buffer[] = [];
    let subscribed: () => void = () => undefined;
    parser.on('packet', (packet) => {
      if (packet.cmd === 'suback') subscribed();
      if (packet.cmd !== 'publish') return;
      const p = packet as mqttPacket.IPublishPacket;
      if (p.qos > 0) acks.push(Buffer.from([0x40, 0x02, p.messageId! >> 8, p.messageId! & 0xff]));
      counter.count(p.payload as Buffer);
    });
    socket.on('data', (d) => {
      parser.parse(d);
      if (acks.length > 0) socket.write(Buffer.concat(acks.splice(0)));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `bench-obs-${process.pid}-${Date.now()}`, keepalive: 0 }));
    const done = new Promise<void>((resolve) => (subscribed = resolve));
    socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/#', qos: 1 }] }));
    await done;
    return counter;
  }

  private count(payload: Buffer): void {
    const i = Number(payload.subarray(0, 9).toString('latin1'));
    if (!(i >= 0 && i < messages)) return;
    const now = Date.now();
    if (this.firstAt === 0) this.firstAt = now;
    this.lastAt = now;
    if (this.seen[i] === 1) this.duplicates++;
    else {
      this.seen[i] = 1;
      this.unique++;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Result {
  peer: Peer;
  /** CPU share of this process (proxy + counter) during the catch-up. */
  harnessBusy: number;
  publishSeconds: number;
  catchUpSeconds: number;
  /** From the link's return to the first message upstream (reconnect delay and connection set-up). */
  firstSeconds: number;
  /** From the first to the last message upstream. */
  drainSeconds: number;
  lost: number;
  duplicates: number;
  writtenBytesPerMessage: number;
}

async function runPeer(peer: Peer): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `bench-bridge-${peer}-`));
  const upstreamPort = await freePort();
  writeFileSync(join(dir, 'upstream.conf'), `listener ${upstreamPort} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n`);
  const upstream = startProcess(MOSQUITTO, ['-c', join(dir, 'upstream.conf')], dir);
  let gateway: Gateway | undefined;
  const proxy = new TcpProxy(upstreamPort);
  try {
    await waitPort(upstreamPort, 'upstream mosquitto', upstream.output);
    await proxy.start();
    const counter = await Counter.connect(upstreamPort);
    // The gateway's first connection makes its persistent session upstream; then the outage starts.
    gateway = peer === 'wharf' ? await startWharf(dir, proxy.port) : await startMosquittoBridge(dir, proxy.port);
    for (let i = 0; i < 250 && proxy.accepted === 0; i++) await sleep(20);
    await sleep(500);
    proxy.setMode('refuse');
    const writtenBefore = readWriteBytes(gateway.child.pid!);
    const publishStart = Date.now();
    await publishBacklog(gateway.port, messages);
    const publishSeconds = (Date.now() - publishStart) / 1000;
    await sleep(1000); // the last commit window, a snapshot in progress
    const written = readWriteBytes(gateway.child.pid!) - writtenBefore;
    if (crash) {
      const gone = new Promise<void>((r) => gateway!.child.once('close', () => r()));
      gateway.child.kill('SIGKILL');
      await gone;
      gateway = peer === 'wharf' ? await startWharf(dir, proxy.port, gateway.port) : await startMosquittoBridge(dir, proxy.port, gateway.port);
    }
    const start = Date.now();
    const cpuBefore = process.cpuUsage();
    proxy.setMode('forward');
    while (counter.unique < messages && Date.now() - start < DRAIN_LIMIT_MS) {
      await sleep(20);
      // Nothing new for a long while: whatever did not come will not.
      if (Date.now() - start > 30_000 && counter.unique === 0) break;
    }
    const catchUpSeconds = (Date.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    // The proxy and the counter run here: if this process was busy most of the time, it bounded the rate.
    const harnessBusy = (cpu.user + cpu.system) / 1e6 / catchUpSeconds;
    await sleep(1000); // late duplicates
    counter.close();
    const firstSeconds = counter.firstAt === 0 ? 0 : (counter.firstAt - start) / 1000;
    const drainSeconds = counter.firstAt === 0 ? 0 : (counter.lastAt - counter.firstAt) / 1000;
    return { peer, harnessBusy, publishSeconds, catchUpSeconds, firstSeconds, drainSeconds, lost: messages - counter.unique, duplicates: counter.duplicates, writtenBytesPerMessage: written / messages };
  } finally {
    if (gateway) await stopProcess(gateway.child);
    await proxy.stop();
    await stopProcess(upstream.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const peer of peers) {
  console.error(`bridge-catchup: ${peer}: ${messages} × ${size} B QoS 1 during an outage ...`);
  results.push(await runPeer(peer));
}
const pad = (s: string, n: number) => s.padStart(n);
console.log(`\nBridge catch-up: ${messages} × ${size} B QoS 1 queued during an outage${crash ? ', gateway killed (SIGKILL) and restarted before the link returns' : ''}, inflight ${INFLIGHT}, same upstream (Mosquitto, persistence off)\n`);
console.log(
  `${'gateway'.padEnd(12)}${pad('publish s', 11)}${pad('catch-up s', 12)}${pad('msg/s', 10)}${pad('1st msg s', 11)}${pad('drain s', 9)}${pad('drain msg/s', 13)}${pad('lost', 8)}${pad('dups', 8)}${pad('B written/msg', 15)}${pad('harness cpu', 13)}`,
);
for (const r of results) {
  const arrived = messages - r.lost;
  const rate = arrived === 0 ? 0 : arrived / r.catchUpSeconds;
  const drainRate = arrived === 0 || r.drainSeconds === 0 ? 0 : arrived / r.drainSeconds;
  console.log(
    `${r.peer.padEnd(12)}${pad(r.publishSeconds.toFixed(1), 11)}${pad(r.catchUpSeconds.toFixed(2), 12)}${pad(rate.toFixed(0), 10)}${pad(r.firstSeconds.toFixed(2), 11)}${pad(r.drainSeconds.toFixed(2), 9)}${pad(drainRate.toFixed(0), 13)}${pad(String(r.lost), 8)}${pad(String(r.duplicates), 8)}${pad(r.writtenBytesPerMessage.toFixed(0), 15)}${pad(`${Math.round(r.harnessBusy * 100)}%`, 13)}`,
  );
}
console.log('catch-up: from the link\'s return until all arrived; 1st msg: until the first arrived (reconnect delay); drain: first to last arrival');
const w = results.find((r) => r.peer === 'wharf');
const m = results.find((r) => r.peer === 'mosquitto');
if (w && m && m.lost > 0) console.log(`\nmosquitto lost ${m.lost} of ${messages} (wharf ${w.lost}): no catch-up time to compare`);
else if (w && m)
  console.log(
    `\ncatch-up time mosquitto / wharf: ${(m.catchUpSeconds / w.catchUpSeconds).toFixed(2)}× (drain ${(m.drainSeconds / w.drainSeconds).toFixed(2)}×); bytes written per message wharf / mosquitto: ${m.writtenBytesPerMessage > 0 ? (w.writtenBytesPerMessage / m.writtenBytesPerMessage).toFixed(2) : 'n/a (mosquitto wrote nothing)'}`,
  );
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
writeJsonRecord(jsonPath, { bench: 'bridge-catchup', messages, size, crash, inflight: INFLIGHT, loadAverage: loadavg(), results });
