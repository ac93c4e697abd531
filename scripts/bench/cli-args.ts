// Command-line flags of the benchmarks: `--flag value` pairs checked as they are read (lastvalue.ts, payloads.ts),
// so that a wrong one stops the run before any broker starts, with the usage text (all of them).

/** Prints `error: msg` (when given) and the usage text, then exits: 2 for a wrong call, 0 for --help. */
export function exitWithUsage(usageText: string, msg?: string): never {
  if (msg) console.error(`error: ${msg}`);
  console.error(usageText);
  process.exit(msg ? 2 : 0);
}

/** The value of the flag being read; each method consumes it. */
export interface FlagValue {
  text(): string;
  /** An integer in [min, max]. */
  int(min: number, max?: number): number;
  /** A comma-separated list of names, each one of `allowed`. */
  oneOrMoreOf<T extends string>(allowed: readonly T[]): T[];
}

/**
 * Walks `argv`, handing each flag to `onFlag`, which returns false for a flag it does not know. -h/--help print
 * the usage and exit 0; an unknown flag, a missing or a wrong value print it and exit 2.
 */
export function readFlags(argv: string[], usageText: string, onFlag: (flag: string, value: FlagValue) => boolean): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '-h' || flag === '--help') exitWithUsage(usageText);
    const text = () => argv[++i] ?? exitWithUsage(usageText, `${flag} needs a value`);
    const value: FlagValue = {
      text,
      int(min, max = Infinity) {
        const n = Number(text());
        if (!Number.isInteger(n) || n < min || n > max) {
          exitWithUsage(usageText, `${flag} must be an integer ${max === Infinity ? `>= ${min}` : `${min}-${max}`}`);
        }
        return n;
      },
      oneOrMoreOf(allowed) {
        const names = text().split(',').map((t) => t.trim());
        if (names.some((t) => !(allowed as readonly string[]).includes(t))) exitWithUsage(usageText, `${flag} takes ${alternatives(allowed)}`);
        return names as (typeof allowed)[number][];
      },
    };
    if (!onFlag(flag, value)) exitWithUsage(usageText, `unknown argument ${flag}`);
  }
}

/** `a and/or b`, `a, b and/or c`. */
function alternatives(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and/or ${names[names.length - 1]}`;
}
