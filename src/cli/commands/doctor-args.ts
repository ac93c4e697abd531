// Arguments of `wharf doctor` and `wharf boards`.

export interface DoctorArgs {
  command: 'doctor';
  config?: string;
  data?: string;
  json: boolean;
  /** Message rate and payload size the write estimate is for. */
  rate: number;
  payloadBytes: number;
  /** 0: no crash test. */
  crashRounds: number;
}

export interface BoardsArgs {
  command: 'boards';
  json: boolean;
}

export const DOCTOR_HELP = `Options of "wharf doctor" (checks the gateway before it goes into service):
  -c, --config FILE       the configuration to check (also WHARF_CONFIG); its
                          storage.dataDir is the directory measured
      --data DIR          the data directory to measure instead (WHARF_DATA_DIR)
      --rate N            message rate (msg/s) for the write estimate (default 100)
      --payload-bytes N   payload size for the write estimate (default 256)
      --crash-test        also kill a writer with SIGKILL at random moments and check
                          that every acknowledged write survived (5 kills)
      --crash-rounds N    the number of kills (1-50; implies --crash-test)
      --json              the report as JSON
  Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 usage error.
`;

const DEFAULT_CRASH_ROUNDS = 5;

function positiveInt(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= max ? n : undefined;
}

/** undefined-free result or a message for "wharf: ..." */
export function parseDoctorArgs(args: string[]): DoctorArgs | { error: string } {
  const out: DoctorArgs = { command: 'doctor', json: false, rate: 100, payloadBytes: 256, crashRounds: 0 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string | undefined => (eq >= 0 ? arg.slice(eq + 1) : args[++i]);
    switch (name) {
      case '--json':
        out.json = true;
        break;
      case '--crash-test':
        out.crashRounds ||= DEFAULT_CRASH_ROUNDS;
        break;
      case '-c':
      case '--config':
      case '--data': {
        const v = value();
        if (v === undefined || v === '' || v.startsWith('-')) return { error: `option ${name} needs a value (${name === '--data' ? 'DIR' : 'FILE'})` };
        if (name === '--data') out.data = v;
        else out.config = v;
        break;
      }
      case '--rate':
      case '--payload-bytes':
      case '--crash-rounds': {
        const text = value();
        const n = positiveInt(text, name === '--crash-rounds' ? 50 : 100_000_000);
        if (n === undefined) return { error: `option ${name} needs a positive integer${name === '--crash-rounds' ? ' up to 50' : ''}; got ${JSON.stringify(text ?? '')}` };
        if (name === '--rate') out.rate = n;
        else if (name === '--payload-bytes') out.payloadBytes = n;
        else out.crashRounds = n;
        break;
      }
      default:
        return { error: arg.startsWith('-') ? `unknown option "${name}" for doctor` : `unexpected argument "${arg}"` };
    }
  }
  return out;
}

export function parseBoardsArgs(args: string[]): BoardsArgs | { error: string } {
  const bad = args.find((a) => a !== '--json');
  return bad === undefined ? { command: 'boards', json: args.includes('--json') } : { error: `unknown ${bad.startsWith('-') ? 'option' : 'argument'} "${bad}" for boards` };
}
