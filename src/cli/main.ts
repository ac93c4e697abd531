#!/usr/bin/env node
// Entry point of the `wharf` executable: parse arguments, run the command, exit with its code.

import { readFileSync } from 'node:fs';
import { parseArgs } from './args.js';
import { ExitCode } from './exit-codes.js';

// Each command loads its modules when it runs: `wharf status` does not load the broker, and the parent that only
// restarts `wharf start` with its board's node flags (node-flags.ts) stays small.

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
      return (await import('./config-command.js')).runConfig(args);
    case 'start': {
      // Before the broker's modules load: their resolution is what wakes the optimisers (startup-tiering.ts).
      const releaseOptimisers = (await import('./startup-tiering.js')).holdOptimisersDuringStartup();
      const asParent = (await import('./node-flags.js')).startWithNodeFlags(args);
      if (asParent !== undefined) {
        releaseOptimisers();
        return asParent;
      }
      const { compactHeapOnce } = await import('./startup-heap.js');
      const { startQuietCompaction } = await import('./quiet-heap.js');
      // Once everything configured runs: the optimisers back, then the garbage of startup compacted away, and from
      // then on again whenever the broker is quiet after its heap grew (quiet-heap.ts).
      const onStarted = (): void => {
        releaseOptimisers();
        if (compactHeapOnce()) startQuietCompaction();
      };
      return (await import('./start.js')).runStart(args, packageVersion(), onStarted);
    }
    case 'client':
      return (await import('./client.js')).runClient(args);
    case 'passwd':
      return (await import('./commands/passwd.js')).runPasswd(args);
    case 'doctor':
      return (await import('./commands/doctor.js')).doctorCommand(args, (await import('./commands/io.js')).processIo);
    case 'boards':
      return (await import('./commands/boards.js')).boardsCommand(args.json, (await import('./commands/io.js')).processIo);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`wharf: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
