// Structured, levelled logging: one line per event on stdout (journald keeps it), logfmt-style fields.
// Logging never takes the broker down: a closed stdout or stderr (`wharf start | head -1`, a log shipper that
// restarts) makes writes fail, and those failures are counted (wharf_log_write_errors_total), not thrown.

import type { LogLevel } from '../config/types.js';
import { isoTime } from './iso-time.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  isDebug(): boolean;
}

/** Writes to stdout/stderr that failed (EPIPE, a destroyed stream), process-wide as those streams are. */
export const logWriteStats = { errors: 0 };

const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * Writes `text` to a standard stream without ever throwing: a failed write is counted instead. A stream that
 * fails once stays failed (its reader is gone), so later lines are counted without being attempted.
 */
export function writeStd(stream: NodeJS.WriteStream, text: string): void {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    // Without a listener, EPIPE arrives as an uncaught 'error' event and ends the process.
    stream.on('error', () => undefined);
  }
  if (stream.destroyed || stream.writableEnded) {
    logWriteStats.errors++;
    return;
  }
  try {
    stream.write(text, (err) => {
      if (err) logWriteStats.errors++;
    });
  } catch {
    logWriteStats.errors++;
  }
}

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => writeStd(process.stdout, l)): Logger {
  const threshold = LEVELS[level];
  const emit = (lvl: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < threshold) return;
    let line = `${isoTime()} ${lvl} ${event}`;
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
