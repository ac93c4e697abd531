// What authorization costs: the QoS 1 scenario (scenario 2: 1 publisher -> 1 subscriber, 64 in flight, 256 B) run
// against Wharf with an ACL file of 200 rules and without one, alternating, each round on a fresh broker process.
//
//   node dist/scripts/bench/acl-cost.js [--rounds N] [--quick] [--rules N]
//
// The ACL is the worst case for a linear scan: the rule granting bench/# comes last, after topic rules for other
// sites, deny rules and %c patterns (the bench clients are anonymous, so all of them are the anonymous section's
// or patterns). Each client's decision per topic is cached (src/auth/session-acl.ts), so the scan runs once per
// topic and session. Target (issue 17): under 10 % slower.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPeer } from './peers.js';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';
import { requirePeer, runStandalone } from './standalone.js';

interface Args {
  rounds: number;
  quick: boolean;
  rules: number;
}

function parse(argv: string[]): Args {
  const a: Args = { rounds: 5, quick: false, rules: 200 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') a.quick = true;
    else if (arg === '--rounds') a.rounds = Number(argv[++i]);
    else if (arg === '--rules') a.rules = Number(argv[++i]);
    else {
      console.error(`usage: node dist/scripts/bench/acl-cost.js [--rounds N] [--quick] [--rules N]; unknown argument ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(a.rules) || a.rules < 1) throw new Error('--rules must be a positive integer');
  return a;
}

/** `rules` lines, the one that lets the bench through last. */
export function aclText(rules: number): string {
  const lines: string[] = [];
  for (let i = 0; lines.length < rules - 1; i++) {
    const kind = i % 4;
    if (kind === 0) lines.push(`topic readwrite site/area-${i}/+/telemetry`);
    else if (kind === 1) lines.push(`topic deny site/area-${i}/secret/#`);
    else if (kind === 2) lines.push(`pattern readwrite clients/%c/area-${i}/#`);
    else lines.push(`topic read site/area-${i}/#`);
  }
  lines.push('topic readwrite bench/#');
  return `${lines.join('\n')}\n`;
}

const median = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function round(aclFile: string | undefined, args: Args): Promise<{ rate: number; cpuPerMsg: number | null; notes: string[] }> {
  const peer = await startPeer('wharf', { wharfYaml: aclFile === undefined ? [] : ['auth:', `  aclFile: ${JSON.stringify(aclFile)}`] });
  try {
    const def = SCENARIOS.find((s) => s.id === 2)!;
    const result: ScenarioResult = await def.run({ peer, quick: args.quick, protocolVersion: 4, log: (m) => console.error(`[acl-cost] ${m}`), crashAt: [] });
    const metric = (suffix: string) => result.metrics.find((m) => m.key.endsWith(suffix))?.value ?? null;
    return { rate: metric('.rate') ?? NaN, cpuPerMsg: metric('.brokerCpuPerMsg'), notes: result.notes };
  } finally {
    await peer.stop();
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  requirePeer('wharf');
  const dir = mkdtempSync(join(tmpdir(), 'wharf-acl-cost-'));
  const aclFile = join(dir, 'acl');
  writeFileSync(aclFile, aclText(args.rules));
  try {
    console.log(`scenario 2 (QoS 1, 1 pub -> 1 sub): ACL of ${args.rules} rules vs none, ${args.rounds} rounds each, alternating${args.quick ? ' (quick)' : ''}`);
    const rates: Record<'acl' | 'none', number[]> = { acl: [], none: [] };
    const cpu: Record<'acl' | 'none', number[]> = { acl: [], none: [] };
    for (let i = 0; i < args.rounds; i++) {
      const order: Array<'acl' | 'none'> = i % 2 === 0 ? ['none', 'acl'] : ['acl', 'none'];
      for (const setting of order) {
        const r = await round(setting === 'acl' ? aclFile : undefined, args);
        rates[setting].push(r.rate);
        if (r.cpuPerMsg !== null) cpu[setting].push(r.cpuPerMsg);
        console.log(`round ${i + 1} ${setting.padEnd(4)}: ${r.rate.toFixed(0)} msg/s, broker CPU ${r.cpuPerMsg?.toFixed(2) ?? 'n/a'} µs/msg${r.notes.length > 0 ? `; ${r.notes.join('; ')}` : ''}`);
      }
    }
    const acl = median(rates.acl);
    const none = median(rates.none);
    console.log('');
    console.log('| setting | median msg/s | median broker CPU µs/msg | rounds (msg/s) |');
    console.log('|---|---:|---:|---|');
    console.log(`| no ACL | ${none.toFixed(0)} | ${cpu.none.length ? median(cpu.none).toFixed(2) : 'n/a'} | ${rates.none.map((r) => r.toFixed(0)).join(', ')} |`);
    console.log(`| ${args.rules} ACL rules | ${acl.toFixed(0)} | ${cpu.acl.length ? median(cpu.acl).toFixed(2) : 'n/a'} | ${rates.acl.map((r) => r.toFixed(0)).join(', ')} |`);
    const paired = rates.acl.map((r, i) => r / rates.none[i]!);
    console.log('');
    console.log(`throughput acl/none, ratio of medians: ${(acl / none).toFixed(4)} (cost ${((1 - acl / none) * 100).toFixed(2)}%; target: under 10%)`);
    console.log(`throughput acl/none, median of per-round ratios: ${median(paired).toFixed(4)} (rounds: ${paired.map((r) => r.toFixed(3)).join(', ')})`);
    if (cpu.acl.length > 0 && cpu.none.length > 0) console.log(`broker CPU per message acl/none, ratio of medians: ${(median(cpu.acl) / median(cpu.none)).toFixed(4)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runStandalone(main);
