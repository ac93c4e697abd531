// ISO 8601 UTC timestamps (what Date.prototype.toISOString gives) from the UTC fields. In Node 20's V8,
// toISOString goes through the date-to-string code that also looks up the local time zone's name, and the first call
// pages about 0.8 MB of ICU's time-zone name tables in for the life of the process (issue 13): every log line and a
// new data directory's meta record made an idle broker pay that for a name it never prints.

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + n;

/** `new Date(ms).toISOString()`, e.g. `2026-12-03T09:04:31.005Z`; throws RangeError for an invalid time as it does. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Years outside 0-9999 (and an invalid time, NaN) take toISOString's own form (±YYYYYY) or its RangeError.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  return (
    String(year).padStart(4, '0') +
    '-' +
    pad2(d.getUTCMonth() + 1) +
    '-' +
    pad2(d.getUTCDate()) +
    'T' +
    pad2(d.getUTCHours()) +
    ':' +
    pad2(d.getUTCMinutes()) +
    ':' +
    pad2(d.getUTCSeconds()) +
    '.' +
    pad3(d.getUTCMilliseconds()) +
    'Z'
  );
}
