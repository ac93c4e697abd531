// Where a client command writes: results to stdout, progress and errors to stderr (so `--json | jq` stays clean).

export interface CommandIo {
  out(text: string): void;
  /** Progress lines; only used when `progressTty` is true (a terminal that can redraw a line). */
  progress(text: string): void;
  progressTty: boolean;
}

export const processIo: CommandIo = {
  out: (t) => process.stdout.write(t),
  progress: (t) => process.stderr.write(t),
  progressTty: process.stderr.isTTY === true,
};
