// `wharf config`: the configuration `wharf start` would run with (board profile, file, environment, options
// merged) and where each value came from, as a table or as JSON. Secrets are shown as set, never printed.

import { ConfigError } from '../config/load.js';
import { valueSources, type ValueSource } from '../config/provenance.js';
import { writeStd } from '../log/logger.js';
import { json, table } from './format.js';
import { loadStartConfig, type StartOptions } from './start.js';
import { ExitCode } from './exit-codes.js';

/** Key paths whose values are secrets. */
const SECRET_PATHS = new Set(['admin.token']);
const HIDDEN = '(hidden)';

export async function runConfig(opts: StartOptions & { json: boolean }, out = (t: string) => writeStd(process.stdout, t)): Promise<number> {
  let loaded;
  try {
    loaded = loadStartConfig(opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    writeStd(process.stderr, `wharf: ${err.message}\n`);
    return ExitCode.Usage;
  }
  const values: ValueSource[] = valueSources(loaded.config, loaded.layers, loaded.overridden).map((v) =>
    SECRET_PATHS.has(v.path) ? { ...v, value: HIDDEN } : v,
  );
  const file = loaded.file ?? null;
  const board = loaded.board ?? null;
  if (opts.json) {
    const config = structuredClone(loaded.config);
    if (config.admin.token !== undefined) config.admin.token = HIDDEN;
    out(json({ file, board, values, config }));
    return ExitCode.Ok;
  }
  const head = `configuration: ${file ?? 'embedded default (no --config, no WHARF_CONFIG)'}; board profile: ${board === null ? 'none' : `${board.name} (${board.description})`}\n`;
  const rows = values.map((v) => [v.path, typeof v.value === 'string' ? v.value : JSON.stringify(v.value), v.source]);
  out(head + table(['KEY', 'VALUE', 'SOURCE'], rows));
  return ExitCode.Ok;
}
