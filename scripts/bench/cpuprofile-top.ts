// Top self-time functions of a V8 .cpuprofile (written by `node --cpu-prof`, e.g. with
// WHARF_BENCH_CPU_PROF=1). Usage:
//   node dist/scripts/bench/cpuprofile-top.js <file.cpuprofile> [N=25] [--window FROM_US,TO_US]
// Self time per function (name + file:line), from the sample time deltas; "(idle)", "(program)" and
// "(garbage collector)" are V8's own buckets. --window keeps only samples taken in that CLOCK_MONOTONIC
// interval (µs), which the runner logs for scenario 4's publish and drain phases (profile timestamps use
// the same clock on Linux).

import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const argv = process.argv.slice(2);
let window: [number, number] | null = null;
const wi = argv.indexOf('--window');
if (wi >= 0) {
  const [a, b] = (argv[wi + 1] ?? '').split(',').map(Number);
  window = [a!, b!];
  argv.splice(wi, 2);
}
const file = argv[0];
const n = Number(argv[1] ?? 25);
if (!file || !Number.isInteger(n) || n < 1 || (window && !(window[0] < window[1]))) {
  console.error('usage: node dist/scripts/bench/cpuprofile-top.js <file.cpuprofile> [N] [--window FROM_US,TO_US]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map<number, ProfileNode>();
for (const node of prof.nodes) byId.set(node.id, node);

const label = (cf: CallFrame): string => {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return name;
  const u = cf.url.replace(/^file:\/\//, '');
  const short = u.includes('/node_modules/') ? u.slice(u.lastIndexOf('/node_modules/') + 14) : path.relative(process.cwd(), u);
  return `${name} ${short}:${cf.lineNumber + 1}`;
};

const self = new Map<string, number>();
let total = 0;
let idle = 0;
// timeDeltas[i] is the time before sample i; attribute it to sample i (V8 DevTools does the same)
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = Math.max(0, prof.timeDeltas[i] ?? 0);
  t += prof.timeDeltas[i] ?? 0;
  if (window && (t < window[0] || t > window[1])) continue;
  const node = byId.get(prof.samples[i]!);
  if (!node) continue;
  const key = label(node.callFrame);
  total += dt;
  if (key === '(idle)') idle += dt;
  self.set(key, (self.get(key) ?? 0) + dt);
}

const busy = total - idle;
console.log(
  `${path.basename(file)}${window ? ` [${window[0]}..${window[1]}]` : ''}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle (main thread)`,
);
console.log('| self ms | % of non-idle | function |');
console.log('|---:|---:|---|');
const rows = [...self.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, n);
for (const [k, us] of rows) console.log(`| ${(us / 1000).toFixed(1)} | ${((100 * us) / busy).toFixed(1)} | ${k.replace(/\|/g, '\\|')} |`);
