// `wharf doctor`: runs the checks of src/doctor/ on the configured data directory and prints them as a table
// (verdict, check, what was found) or as JSON. Exit 0 when no check failed, 1 when one did.

import { loadStartConfig } from '../start.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import type { DoctorReport } from '../../doctor/types.js';
import { json } from '../format.js';
import type { DoctorArgs } from './doctor-args.js';
import type { CommandIo } from './io.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', info: '    ' } as const;

export function renderReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `${MARK[c.verdict]}  ${c.name.padEnd(width)}  ${c.summary}\n`);
  const failed = report.checks.filter((c) => c.verdict === 'fail').length;
  const warned = report.checks.filter((c) => c.verdict === 'warn').length;
  return `wharf doctor: data directory ${report.dataDir}\n${lines.join('')}${failed} failed, ${warned} warnings\n`;
}

export async function doctorCommand(args: DoctorArgs, io: CommandIo): Promise<number> {
  const report = await runDoctor({
    loadConfig: () => loadStartConfig({ config: args.config, data: args.data }),
    messagesPerSecond: args.rate,
    payloadBytes: args.payloadBytes,
    crashRounds: args.crashRounds,
  });
  io.out(args.json ? json(report) : renderReport(report));
  return report.verdict === 'fail' ? 1 : 0;
}
