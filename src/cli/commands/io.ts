// Where a client command writes: results to stdout, progress and errors to stderr (so `--json | jq` stays clean).

import { writeStd } from '../../log/logger.js';

export interface CommandIo {
  out(text: string): void;
  /** Progress lines; only used when `progressTty` is true (a terminal that can redraw a line). */
  progress(text: string): void;
  progressTty: boolean;
}

// writeStd: `wharf queues | head -1` closes the pipe early; that is not a failure worth a stack trace.
export const processIo: CommandIo = {
  out: (t) => writeStd(process.stdout, t),
  progress: (t) => writeStd(process.stderr, t),
  progressTty: process.stderr.isTTY === true,
};
