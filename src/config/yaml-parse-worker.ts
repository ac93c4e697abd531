// The worker thread of yaml-parse.ts: parses one text with `yaml`, posts the value (or the error) and notifies.

import { workerData, type MessagePort } from 'node:worker_threads';
import { parse, YAMLParseError } from 'yaml';
import type { YamlParseReply, YamlParseRequest } from './yaml-parse.js';

const { request, port } = workerData as { request: YamlParseRequest; port: MessagePort };
let reply: YamlParseReply;
try {
  reply = { ok: true, value: parse(request.text, { prettyErrors: request.prettyErrors }) };
} catch (err) {
  reply =
    err instanceof YAMLParseError
      ? { ok: false, syntax: true, message: err.message, linePos: err.linePos?.map((p) => ({ line: p.line, col: p.col })) }
      : { ok: false, syntax: false, message: err instanceof Error ? err.message : String(err) };
}
try {
  port.postMessage(reply);
} catch (err) {
  // A value structured clone cannot carry (none in YAML's core schema, but never leave the parent waiting).
  port.postMessage({ ok: false, syntax: false, message: `cannot pass the parsed YAML back: ${(err as Error).message}` } satisfies YamlParseReply);
}
Atomics.store(request.done, 0, 1);
Atomics.notify(request.done, 0);
port.close();
