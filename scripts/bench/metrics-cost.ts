// What monitoring costs: the QoS 1 scenario (scenario 2: 1 publisher -> 1 subscriber, 64 in flight, 256 B) run
// against Wharf with metrics on and off, alternating, each round on a fresh broker process.
//
//   node dist/scripts/bench/metrics-cost.js [--rounds N] [--quick] [--scenario ID]
//
// "on":  metrics.enabled true, $SYS every 1 s (ten times the default), admin API up and scraped (/metrics and
//        /api/v1/queues) every second during the run, as an impatient Prometheus and dashboard would.
// "off": metrics.enabled false, sys.interval 0, admin.enabled false.
// The hot-path counters are plain number fields kept in both (the JSON API reads them); what the switch removes
// is everything else monitoring does. Prints each round and the ratio of median throughputs (on / off).

import { request } from 'node:http';
import { freePort, startPeer } from './peers.js';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';

interface Args {
  rounds: number;
  quick: boolean;
  scenario: number;
}

function parse(argv: string[]): Args {
  const a: Args = { rounds: 5, quick: false, scenario: 2 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') a.quick = true;
    else if (arg === '--rounds') a.rounds = Number(argv[++i]);
    else if (arg === '--scenario') a.scenario = Number(argv[++i]);
    else {
      console.error(`usage: node dist/scripts/bench/metrics-cost.js [--rounds N] [--quick] [--scenario ID]; unknown argument ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds must be a positive integer');
  return a;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => resolve(res.statusCode === 200 ? n : -1));
    });
    req.on('error', () => resolve(-1));
    req.end();
  });
}

const median = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function round(on: boolean, args: Args): Promise<{ rate: number; cpuPerMsg: number | null; scrapes: number; notes: string[] }> {
  const adminPort = await freePort();
  const yaml = on
    ? ['admin:', `  listen: 127.0.0.1:${adminPort}`, 'sys:', '  interval: 1s', 'metrics:', '  enabled: true']
    : ['admin:', '  enabled: false', 'sys:', '  interval: 0', 'metrics:', '  enabled: false'];
  const peer = await startPeer('wharf', { wharfYaml: yaml });
  let scrapes = 0;
  let scraping = on;
  const scraper = (async () => {
    while (scraping) {
      const a = await get(adminPort, '/metrics');
      const b = await get(adminPort, '/api/v1/queues');
      if (a > 0 && b > 0) scrapes++;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    const def = SCENARIOS.find((s) => s.id === args.scenario)!;
    const result: ScenarioResult = await def.run({ peer, quick: args.quick, protocolVersion: 4, log: (m) => console.error(`[metrics-cost] ${m}`), crashAt: [] });
    const metric = (suffix: string) => result.metrics.find((m) => m.key.endsWith(suffix))?.value ?? null;
    return { rate: metric('.rate') ?? NaN, cpuPerMsg: metric('.brokerCpuPerMsg'), scrapes, notes: result.notes };
  } finally {
    scraping = false;
    await scraper;
    await peer.stop();
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const def = SCENARIOS.find((s) => s.id === args.scenario);
  if (def === undefined) throw new Error(`no scenario ${args.scenario}`);
  console.log(`scenario ${def.id}: ${def.name}; ${args.rounds} rounds per setting, alternating${args.quick ? ' (quick)' : ''}`);
  const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let i = 0; i < args.rounds; i++) {
    // Alternate which goes first, so a drift of the machine over time does not favour one side.
    const order: Array<'on' | 'off'> = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const setting of order) {
      const r = await round(setting === 'on', args);
      rates[setting].push(r.rate);
      if (r.cpuPerMsg !== null) cpu[setting].push(r.cpuPerMsg);
      console.log(`round ${i + 1} metrics ${setting.padEnd(3)}: ${r.rate.toFixed(0)} msg/s, broker CPU ${r.cpuPerMsg?.toFixed(2) ?? 'n/a'} µs/msg${setting === 'on' ? `, ${r.scrapes} scrapes` : ''}${r.notes.length > 0 ? `; ${r.notes.join('; ')}` : ''}`);
    }
  }
  const on = median(rates.on);
  const off = median(rates.off);
  console.log('');
  console.log('| setting | median msg/s | median broker CPU µs/msg | rounds (msg/s) |');
  console.log('|---|---:|---:|---|');
  console.log(`| metrics off | ${off.toFixed(0)} | ${cpu.off.length ? median(cpu.off).toFixed(2) : 'n/a'} | ${rates.off.map((r) => r.toFixed(0)).join(', ')} |`);
  console.log(`| metrics on | ${on.toFixed(0)} | ${cpu.on.length ? median(cpu.on).toFixed(2) : 'n/a'} | ${rates.on.map((r) => r.toFixed(0)).join(', ')} |`);
  const ratio = on / off;
  // Each round's two runs are back to back: their ratio cancels the machine's drift between rounds.
  const paired = rates.on.map((r, i) => r / rates.off[i]!);
  const cpuRatio = cpu.on.length > 0 && cpu.off.length > 0 ? median(cpu.on) / median(cpu.off) : NaN;
  console.log('');
  console.log(`throughput on/off, ratio of medians: ${ratio.toFixed(4)} (cost ${((1 - ratio) * 100).toFixed(2)}%; target: cost under 3%)`);
  console.log(`throughput on/off, median of per-round ratios: ${median(paired).toFixed(4)} (rounds: ${paired.map((r) => r.toFixed(3)).join(', ')})`);
  console.log(`broker CPU per message on/off, ratio of medians: ${cpuRatio.toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
