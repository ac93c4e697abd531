// The HTTP client of the commands that talk to a running Wharf: finds the admin API (--admin, WHARF_ADMIN or the
// default address), sends the token, and turns every kind of failure into a CommandFailure with its exit code.

import { request, type IncomingMessage } from 'node:http';
import { parseHostPort } from '../config/monitoring.js';
import { DEFAULT_ADMIN_LISTEN } from '../config/types.js';
import { CommandFailure, ExitCode, type ExitCodeValue } from './exit-codes.js';

const TIMEOUT_MS = 10_000;

export interface AdminTarget {
  host: string;
  port: number;
  token: string | undefined;
  /** As given, for messages. */
  address: string;
}

export function resolveTarget(admin: string | undefined, token: string | undefined, env = process.env): AdminTarget {
  const address = admin ?? (env.WHARF_ADMIN || DEFAULT_ADMIN_LISTEN);
  const hp = parseHostPort(address);
  if (hp === undefined || hp.port === 0) throw new CommandFailure(ExitCode.Usage, `--admin: must be HOST:PORT such as 127.0.0.1:18083; got "${address}"`);
  // A wildcard listen address is where the broker binds, not where a client connects.
  const host = hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host === '::' ? '::1' : hp.host;
  return { host, port: hp.port, token: token ?? (env.WHARF_ADMIN_TOKEN || undefined), address };
}

function statusExit(status: number): ExitCodeValue {
  if (status === 404) return ExitCode.NotFound;
  if (status === 401 || status === 403) return ExitCode.Unauthorized;
  if (status >= 400 && status < 500) return ExitCode.Refused;
  return ExitCode.Failure;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  accept?: string;
  /** Called for each line of an application/x-ndjson answer (purge progress). */
  onLine?: (value: unknown) => void;
}

/** Sends one request; resolves with the parsed JSON (or the last ndjson line), rejects with a CommandFailure. */
export function call(target: AdminTarget, path: string, opts: CallOptions = {}): Promise<unknown> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: target.host, port: target.port, path, method: opts.method ?? 'GET', headers, timeout: TIMEOUT_MS }, (res) => {
      receive(res, opts.onLine).then(
        (value) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(value);
          const message = (value as { error?: unknown } | undefined)?.error;
          reject(new CommandFailure(statusExit(status), typeof message === 'string' ? message : `admin API answered HTTP ${status}`));
        },
        (err: Error) => reject(new CommandFailure(ExitCode.Failure, `bad answer from the admin API at ${target.address}: ${err.message}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'connection refused (is wharf running, with admin.enabled?)' : err.message;
      reject(new CommandFailure(ExitCode.Unreachable, `cannot reach the admin API at ${target.address}: ${why}`));
    });
    req.end(body);
  });
}

async function receive(res: IncomingMessage, onLine: ((v: unknown) => void) | undefined): Promise<unknown> {
  const ndjson = /application\/x-ndjson/.test(res.headers['content-type'] ?? '');
  if (!/json/.test(res.headers['content-type'] ?? '')) {
    res.resume();
    throw new Error(`expected JSON, got ${res.headers['content-type'] ?? 'no content type'} (HTTP ${res.statusCode}): is this Wharf's admin port?`);
  }
  let text = '';
  let last: unknown;
  res.setEncoding('utf8');
  for await (const chunk of res) {
    text += chunk as string;
    if (!ndjson) continue;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line === '') continue;
      last = JSON.parse(line) as unknown;
      onLine?.(last);
    }
  }
  if (ndjson) {
    if (text.trim() !== '') last = JSON.parse(text) as unknown;
    if (last === undefined) throw new Error('empty answer');
    return last;
  }
  return JSON.parse(text) as unknown;
}
