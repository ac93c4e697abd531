// Reads a password for `wharf passwd`: from the terminal without echo (asked twice), or stdin's first line.

import { createInterface } from 'node:readline';

export async function readPassword(prompt: string): Promise<string | { error: string }> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const line = await firstLine();
    if (line === undefined || line.length === 0) return { error: 'passwd: no password on stdin (one line expected)' };
    return line;
  }
  const first = await askHidden(prompt);
  const second = await askHidden('Again: ');
  if (first !== second) return { error: 'passwd: the passwords do not match' };
  if (first.length === 0) return { error: 'passwd: empty password' };
  return first;
}

function firstLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let got: string | undefined;
    rl.once('line', (line) => {
      got = line.replace(/\r$/, '');
      rl.close();
    });
    rl.once('close', () => resolve(got));
  });
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(typed);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
