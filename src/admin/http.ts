// Small HTTP helpers for the admin API: JSON answers, JSON errors with a status, and bounded request bodies.

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An expected failure of a request: answered as {"error": message} with this HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** More fields of the error body, e.g. `errors`: every validation problem, one per field. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, what);
export const badRequest = (why: string) => new ApiError(400, why);
export const conflict = (why: string) => new ApiError(409, why);

/** Queue definitions and the like are small; anything bigger is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** The request body parsed as JSON; an empty body is `{}`. 413 when too large, 400 when not JSON, 415 for other types. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) throw new ApiError(415, `expected a JSON body (content-type: application/json); got ${type}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** A non-negative integer query parameter within [min, max]; `fallback` when absent. */
export function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badRequest(`${name}: must be an integer ${min}-${max}; got ${JSON.stringify(raw)}`);
  return n;
}

/** The text of `buf` if it is valid UTF-8; a cut buffer may lose up to 3 bytes of a split last character. */
function utf8Text(buf: Buffer, cut: boolean): string | undefined {
  for (let drop = 0; drop <= (cut ? 3 : 0) && drop <= buf.length; drop++) {
    const part = buf.subarray(0, buf.length - drop);
    if (isUtf8(part)) return part.toString('utf8');
  }
  return undefined;
}

/** A payload for JSON: UTF-8 text when it is valid UTF-8, else base64; cut at `maxBytes`. */
export function payloadView(payload: Buffer, maxBytes = 4096): { payload: string; encoding: 'utf8' | 'base64'; bytes: number; truncated: boolean } {
  const truncated = payload.length > maxBytes;
  const part = truncated ? payload.subarray(0, maxBytes) : payload;
  const text = utf8Text(part, truncated);
  return { payload: text ?? part.toString('base64'), encoding: text === undefined ? 'base64' : 'utf8', bytes: payload.length, truncated };
}
