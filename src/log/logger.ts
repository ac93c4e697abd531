// Structured, levelled logging: one line per event on stdout (journald keeps it), logfmt-style fields.

import type { LogLevel } from '../config/types.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  isDebug(): boolean;
}

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const threshold = LEVELS[level];
  const emit = (lvl: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < threshold) return;
    let line = `${new Date().toISOString()} ${lvl} ${event}`;
    if (fields) {
      for (const k of Object.keys(fields)) {
        const v = fields[k];
        if (v !== undefined && v !== null) line += ` ${k}=${formatValue(v)}`;
      }
    }
    write(line + '\n');
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    isDebug: () => threshold <= LEVELS.debug,
  };
}

export const silentLogger: Logger = createLogger('silent');
