// Runs a crash-test writer (test/store/fixtures/*-writer.ts) in a child process and SIGKILLs it at a chosen
// moment, handing over each line it printed: what the writer saw durable, which must survive the kill.

import { spawn } from 'node:child_process';

/**
 * Starts `node writer ...args`, calls `onLine` with the words of each complete stdout line, and kills the writer
 * `killAfterMs` after its `ready` line (so that the store is open and writing). Resolves with the number of
 * lines read; rejects when the writer exits by itself, with its stderr.
 */
export function runWriterUntilKilled(writer: string, args: string[], killAfterMs: number, onLine: (words: string[]) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let lines = 0;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) {
        const words = line.split(' ');
        lines++;
        if (words[0] === 'ready') timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else onLine(words);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(lines);
      else reject(new Error(`writer exited with ${code ?? signal} before the kill: ${stderr}`));
    });
  });
}
