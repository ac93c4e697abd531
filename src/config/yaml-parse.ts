// YAML parsing for the configuration and the point maps, done in a short-lived worker thread and waited for
// synchronously. The `yaml` library makes about 150 times the text's size in garbage (a 155 KB file of 50 devices
// × 40 points: 23 MB of heap, 2-3 s on a loaded 2-core box), and V8 keeps the pages such a peak made for the life of
// the process: parsed in the broker's own heap, the configuration of the issue 14 load cost 25 MB of RSS for good.
// In a worker that heap goes away with the worker; the parsed value comes back by structured clone (plain objects,
// arrays, scalars). A worker has a cost of its own (about 2 MB of RSS that its thread's allocator keeps), so a
// small text, whose garbage is no larger, is parsed here as before.

import { createRequire } from 'node:module';
import { nodeWorkerThreads } from '../lazy-builtins.js';

/** A YAML syntax error as `yaml` reports it (message with an excerpt when prettyErrors, first position). */
export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly linePos: { line: number; col: number }[] | undefined,
  ) {
    super(message);
    this.name = 'YamlSyntaxError';
  }
}

/** What the worker (yaml-parse-worker.ts) posts back. */
export type YamlParseReply =
  | { ok: true; value: unknown }
  | { ok: false; syntax: true; message: string; linePos: { line: number; col: number }[] | undefined }
  | { ok: false; syntax: false; message: string };

export interface YamlParseRequest {
  text: string;
  prettyErrors: boolean;
  /** Set to 1 and notified by the worker once its reply is on the port. */
  done: Int32Array;
}

const WORKER = new URL('./yaml-parse-worker.js', import.meta.url);
/** A worker that has not answered by then is stuck (a configuration of megabytes parses in seconds on a Pi). */
const TIMEOUT_MS = 120_000;

/** Texts from this size on go to a worker: about 2 MB of garbage here, what a worker costs. */
export const WORKER_MIN_CHARS = 16 * 1024;

/** `yaml`'s parse(text), a large text without its garbage in this heap; throws YamlSyntaxError on a syntax error. */
export function parseYaml(text: string, options: { prettyErrors?: boolean; worker?: boolean } = {}): unknown {
  const prettyErrors = options.prettyErrors ?? false;
  return (options.worker ?? text.length >= WORKER_MIN_CHARS) ? parseInWorker(text, prettyErrors) : parseHere(text, prettyErrors);
}

function parseHere(text: string, prettyErrors: boolean): unknown {
  // Loaded on first use (a synchronous require: loading the configuration is synchronous), and dropped from the
  // require cache again once parsed: a broker parses its configuration once, and the library's ~70 module files
  // (0.3 MB of source, their compiled code) then become garbage that the compaction after startup gives back
  // (src/cli/startup-heap.ts; idle RSS -0.6 MB, issue 13). A copy someone else had loaded before stays.
  const require = createRequire(import.meta.url);
  const before = new Set(Object.keys(require.cache));
  const yaml = require('yaml') as typeof import('yaml');
  try {
    return yaml.parse(text, { prettyErrors });
  } catch (err) {
    if (err instanceof yaml.YAMLParseError) throw new YamlSyntaxError(err.message, err.linePos?.map((p) => ({ line: p.line, col: p.col })));
    throw err;
  } finally {
    for (const key of Object.keys(require.cache)) if (!before.has(key)) delete require.cache[key];
  }
}

function parseInWorker(text: string, prettyErrors: boolean): unknown {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { MessageChannel, receiveMessageOnPort, Worker } = nodeWorkerThreads();
  const { port1, port2 } = new MessageChannel();
  const request: YamlParseRequest = { text, prettyErrors, done };
  // Small young generation: the worker's garbage is short-lived, and its heap is freed when it exits anyway.
  const worker = new Worker(WORKER, { workerData: { request, port: port2 }, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  try {
    const start = Date.now();
    // The worker runs on its own thread: this thread may block (no event loop is needed for it to answer).
    while (Atomics.load(done, 0) === 0) {
      if (Date.now() - start > TIMEOUT_MS) throw new Error(`parsing YAML took longer than ${TIMEOUT_MS / 1000} s`);
      Atomics.wait(done, 0, 0, 1000);
    }
    const reply = receiveMessageOnPort(port1)?.message as YamlParseReply | undefined;
    if (reply === undefined) throw new Error('the YAML parser gave no answer');
    if (reply.ok) return reply.value;
    if (reply.syntax) throw new YamlSyntaxError(reply.message, reply.linePos);
    throw new Error(reply.message);
  } finally {
    port1.close();
    void worker.terminate();
  }
}
