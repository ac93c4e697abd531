// Runs a crash-test writer (test/store/fixtures/*-writer.ts) in a child process and SIGKILLs it right after it
// reported a chosen event, handing over each line it printed: what the writer saw durable, which must survive.

import { spawn } from 'node:child_process';

/** A writer that never reaches the kill condition fails the test after this long (it does not decide timing). */
const REACH_LIMIT_MS = 60_000;

/**
 * Starts `node writer ...args`, calls `onLine` with the words of each complete stdout line after its `ready`
 * line, and sends SIGKILL as soon as `killWhen()` (asked after each of those lines) is true: the kill then lands
 * after an event the test observed, whatever the machine's speed, while the writer is still writing. Resolves
 * with the number of lines read; rejects when the writer exits by itself (with its stderr) or never reaches the
 * condition within REACH_LIMIT_MS.
 */
export function runWriterUntilKilled(writer: string, args: string[], killWhen: () => boolean, onLine: (words: string[]) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let lines = 0;
    let stderr = '';
    let ready = false;
    let killed = false;
    let failure: Error | undefined;
    const limit = setTimeout(() => {
      failure = new Error(`the writer did not reach the kill condition within ${REACH_LIMIT_MS} ms (${lines} lines read)`);
      child.kill('SIGKILL');
    }, REACH_LIMIT_MS);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) {
        const words = line.split(' ');
        lines++;
        if (words[0] === 'ready') ready = true;
        else if (ready) onLine(words);
        if (ready && !killed && killWhen()) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (failure !== undefined) reject(failure);
      else if (signal === 'SIGKILL' && killed) resolve(lines);
      else reject(new Error(`writer exited with ${code ?? signal} before the kill: ${stderr}`));
    });
  });
}
