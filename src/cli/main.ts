#!/usr/bin/env node
// Entry point of the `wharf` executable: parse arguments, run the command, exit with its code.

import { readFileSync } from 'node:fs';
import { parseArgs } from './args.js';
import { runConfig } from './config-command.js';
import { runStart } from './start.js';
import { runClient } from './client.js';
import { ExitCode } from './exit-codes.js';
import { runPasswd } from './commands/passwd.js';
import { doctorCommand } from './commands/doctor.js';
import { boardsCommand } from './commands/boards.js';
import { processIo } from './commands/io.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  switch (args.command) {
    case 'help':
      process.stdout.write(args.text);
      return 0;
    case 'version':
      process.stdout.write(`wharf ${packageVersion()}\n`);
      return 0;
    case 'error':
      // One line that says what is wrong and where the usage is; the whole help would bury it.
      process.stderr.write(`wharf: ${args.message}\n`);
      return ExitCode.Usage;
    case 'config':
      return runConfig(args);
    case 'start':
      return runStart(args, packageVersion());
    case 'client':
      return runClient(args);
    case 'passwd':
      return runPasswd(args);
    case 'doctor':
      return doctorCommand(args, processIo);
    case 'boards':
      return boardsCommand(args.json, processIo);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`wharf: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
