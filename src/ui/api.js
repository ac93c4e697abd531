// The admin API from the page: the bearer token (kept in sessionStorage, so it goes when the tab closes), JSON
// calls, and the live stream read with fetch() so that it carries the same Authorization header as every call.

const KEY = 'wharf.adminToken';

export class Unauthorized extends Error {}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

function headers(extra = {}) {
  const t = token.get();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

/** JSON of `path`; throws Unauthorized on 401 and an Error with the API's message otherwise. 404 -> null when asked. */
export async function api(path, { method = 'GET', body, nullOn404 = false } = {}) {
  const res = await fetch(path, { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }), body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) throw new Unauthorized('token refused');
  if (res.status === 404 && nullOn404) return null;
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new Error(json?.error ?? `${res.status} ${res.statusText}`);
  return json;
}

/**
 * Reads GET /api/v1/events until it ends or fails, calling onSnapshot per event. Resolves when the stream ends;
 * rejects with Unauthorized on 401. `signal` stops it.
 */
export async function readEvents(onSnapshot, signal) {
  const res = await fetch('/api/v1/events', { headers: headers({ accept: 'text/event-stream' }), signal, cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized('token refused');
  if (!res.ok || res.body === null) throw new Error(`events: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    // Server-Sent Events: events end with a blank line; `data:` lines carry the JSON.
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (event === 'snapshot' && data.length > 0) onSnapshot(JSON.parse(data.join('\n')));
    }
  }
}
