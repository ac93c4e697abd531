// The round trip no dispatcher can save: a trivial echo server in its own process (as the broker is) and a client
// of it, for the OCR benchmark's ideal time (ocr-shares.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { openSocket } from '../../test/helpers/queue-clients.js';

/**
 * A trivial echo server in its own process (as the broker is) and a client of it: the round trip of a tiny
 * message between two processes on this machine, under whatever load it has at the moment, with no broker work in
 * it. `close()` kills the process.
 */
export class EchoProbe {
  private pending: ((t: number) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: net.Socket,
  ) {
    socket.on('data', () => {
      const p = this.pending;
      this.pending = undefined;
      p?.(performance.now());
    });
    socket.on('error', () => {});
  }

  static async start(): Promise<EchoProbe> {
    const code =
      "const s=require('net').createServer(c=>{c.setNoDelay(true);c.on('data',d=>c.write(d));c.on('error',()=>{})});" +
      "s.listen(0,'127.0.0.1',()=>process.stdout.write(s.address().port+'\\n'));";
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        const t = setTimeout(() => reject(new Error('echo process did not start within 5 s')), 5000);
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('\n')) (clearTimeout(t), resolve(Number(out.trim())));
        });
        child.once('exit', () => (clearTimeout(t), reject(new Error('echo process exited'))));
      });
      return new EchoProbe(child, await openSocket(port));
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** One round trip of a 2-byte message, ms. */
  roundTrip(): Promise<number> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const t = setTimeout(() => ((this.pending = undefined), reject(new Error('no echo within 3 s'))), 3000);
      this.pending = (t1) => (clearTimeout(t), resolve(t1 - t0));
      this.socket.write(Buffer.from([0xc0, 0x00]));
    });
  }

  async close(): Promise<void> {
    this.socket.destroy();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.kill('SIGKILL');
    await gone;
  }
}
