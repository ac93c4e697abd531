// A depth sparkline as inline SVG: one polyline over the last minutes, scaled to its own maximum. Hand-written
// because a chart library (uPlot is ~20 KB gzip) would outweigh the rest of the page for a 120x24 line.

/** The width stands for at least this long, so a page just opened does not stretch seconds over the line. */
const MIN_SPAN_MS = 60_000;

/** points: [timeMs, value][] (oldest first); the width stands for up to maxSpanMs ending now. */
export function sparkline(points, nowMs, maxSpanMs, label) {
  const w = 120;
  const h = 24;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const spanMs = Math.min(maxSpanMs, Math.max(MIN_SPAN_MS, points.length > 0 ? nowMs - points[0][0] : 0));
  const start = nowMs - spanMs;
  const xy = points
    .filter((p) => p[0] >= start)
    .map((p) => `${(((p[0] - start) / spanMs) * w).toFixed(1)},${(h - 1 - (p[1] / max) * (h - 2)).toFixed(1)}`)
    .join(' ');
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${label}"><polyline points="${xy}"/></svg>`;
}
