// The load part of the Modbus poll benchmark: CPU and RSS of `wharf start` polling many Modbus TCP devices every
// second, against the same broker started without devices (issue 14: under 5 % of one core and under 15 MB RSS
// above the idle broker). Each device has its own bus, so its own TCP connection, as separate devices on a site
// network would; one pymodbus simulator answers for all unit ids.

import { performance } from 'node:perf_hooks';
import { ModbusSim } from '../../test/helpers/modbus-sim.js';
import { devicesYaml, loadPointValues, pointMap } from './modbus-points.js';
import { startPeer, type RunningPeer } from './peers.js';

/** Before the window: the process has started, connected and run its first cycles. */
const WARMUP_MS = 10_000;
const SAMPLE_MS = 1000;

export interface ProcessFigures {
  cpuPercent: number;
  rssMb: number;
  rssMaxMb: number;
  /** Median RssAnon (MB): RSS without file-backed pages (the node binary's code, LMDB's map). */
  rssAnonMb: number;
  /** Medians of the process's own process.memoryUsage() samples in the window (MB): where the RSS goes. */
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
  /** Highest heapUsed right after a major GC in the window (MB): the live heap; NaN if no major GC ran. */
  liveHeapMb: number;
}

export interface LoadResult {
  devices: number;
  points: number;
  seconds: number;
  requestsPerSecond: number;
  idle: ProcessFigures;
  polling: ProcessFigures;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** CPU share and RSS samples of `peer` over `seconds`, after the warm-up. */
async function measure(peer: RunningPeer, seconds: number, during?: () => Promise<void>): Promise<ProcessFigures> {
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  await during?.();
  const cpu0 = peer.cpuSeconds();
  const t0 = performance.now();
  const rss: number[] = [];
  const anon: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    if (peer.exited()) throw new Error(`wharf exited: ${peer.output()}`);
    rss.push(peer.rssBytes() / 1e6);
    anon.push(peer.rssAnonBytes() / 1e6);
  }
  const wallS = (performance.now() - t0) / 1000;
  const heap = peer.memorySamples(Date.now() - seconds * 1000) ?? [];
  const mb = (f: (s: (typeof heap)[number]) => number) => (heap.length === 0 ? NaN : median(heap.map(f)) / 1e6);
  return {
    cpuPercent: ((peer.cpuSeconds() - cpu0) / wallS) * 100,
    rssMb: median(rss),
    rssMaxMb: Math.max(...rss),
    rssAnonMb: median(anon),
    heapTotalMb: mb((s) => s.heapTotal),
    heapUsedMb: mb((s) => s.heapUsed),
    externalMb: mb((s) => s.external),
    liveHeapMb: heap.some((s) => s.afterMajorGc >= 0) ? Math.max(...heap.map((s) => s.afterMajorGc)) / 1e6 : NaN,
  };
}

export async function runLoad(deviceCount: number, pointsPerDevice: number, seconds: number): Promise<LoadResult> {
  const devices = pointMap(deviceCount * pointsPerDevice, deviceCount);
  const idlePeer = await startPeer('wharf', { sampleHeap: true });
  let idle: ProcessFigures;
  try {
    idle = await measure(idlePeer, seconds);
  } finally {
    await idlePeer.stop();
  }
  const sim = await ModbusSim.start({ units: devices.map((d) => d.unitId), size: 1000 });
  try {
    await loadPointValues(sim, devices);
    const peer = await startPeer('wharf', {
      sampleHeap: true,
      wharfYaml: [
        'buses:',
        ...devices.map((d) => `  - { name: bus${d.unitId}, type: tcp, host: 127.0.0.1, port: ${sim.port} }`),
        ...devicesYaml(devices, (d) => `bus${d.unitId}`, '1s'),
      ],
    });
    try {
      const polling = await measure(peer, seconds, async () => void (await sim.reset()));
      const requests = Object.values(await sim.counts()).reduce((n, perUnit) => n + (perUnit['3'] ?? 0), 0);
      return {
        devices: deviceCount,
        points: pointsPerDevice,
        seconds,
        requestsPerSecond: requests / seconds,
        idle,
        polling,
      };
    } finally {
      await peer.stop();
    }
  } finally {
    await sim.close();
  }
}
