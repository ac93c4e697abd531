// Runs a command that talks to the admin API and maps its outcome to an exit code (see exit-codes.ts).

import { resolveTarget } from './admin-client.js';
import type { ClientArgs } from './client-args.js';
import { clientsCommand, retainedCommand } from './commands/clients.js';
import { processIo, type CommandIo } from './commands/io.js';
import { queuesCommand } from './commands/queues.js';
import { devicesCommand } from './commands/devices.js';
import { statusCommand } from './commands/status.js';
import { bridgesCommand } from './commands/bridges.js';
import { CommandFailure, ExitCode } from './exit-codes.js';

export async function runClient(args: ClientArgs, io: CommandIo = processIo, writeError: (t: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  try {
    const target = resolveTarget(args.admin, args.token);
    switch (args.resource) {
      case 'status':
        await statusCommand(target, args.json, io);
        break;
      case 'queues':
        await queuesCommand(target, args, io);
        break;
      case 'clients':
      case 'sessions':
        await clientsCommand(target, args, io);
        break;
      case 'retained':
        await retainedCommand(target, args, io);
        break;
      case 'devices':
        await devicesCommand(target, args, io);
        break;
      case 'bridges':
        await bridgesCommand(target, args, io);
        break;
    }
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommandFailure) {
      writeError(`wharf: ${err.message}\n`);
      return err.exitCode;
    }
    writeError(`wharf: ${(err as Error)?.stack ?? String(err)}\n`);
    return ExitCode.Failure;
  }
}
