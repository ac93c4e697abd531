// Readable numbers for the status page: thousands separators, units, ages as "3 min". Pure functions, no DOM,
// so the tests can run them in Node as well as in the browser.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 1234567 -> "1,234,567"; null/undefined -> "–". */
export function count(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return intFmt.format(n);
}

/** Messages per second: "0", "0.4/s", "1,234/s". */
export function rate(perSec, unit = '/s') {
  if (perSec === null || perSec === undefined || Number.isNaN(perSec)) return '–';
  if (perSec === 0) return `0${unit}`;
  return (perSec < 10 ? oneFmt.format(perSec) : intFmt.format(perSec)) + unit;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> "1.5 KiB"; binary units, as the store's limits are set. */
export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? intFmt.format(v) : oneFmt.format(v)} ${BYTE_UNITS[i]}`;
}

/** An age or duration in ms: "0 s", "45 s", "3 min", "2 h 5 min", "4 d 3 h". */
export function age(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** Milliseconds with a unit: 0.42 -> "0.4 ms", 1234 -> "1,234 ms". */
export function ms(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return `${n < 10 ? oneFmt.format(n) : intFmt.format(n)} ms`;
}

/** 0.423 -> "42%". */
export function percent(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '–';
  return `${intFmt.format(ratio * 100)}%`;
}

/** Text for HTML: the page builds markup from figures that include client ids and topics. */
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
