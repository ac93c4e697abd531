// A depth sparkline as inline SVG: one polyline over the last minutes, scaled to its own maximum. Hand-written
// because a chart library (uPlot is ~20 KB gzip) would outweigh the rest of the page for a 120x24 line.

/** points: [timeMs, value][] (oldest first); spanMs: the time the width stands for, ending now. */
export function sparkline(points, nowMs, spanMs, label) {
  const w = 120;
  const h = 24;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const start = nowMs - spanMs;
  const xy = points
    .filter((p) => p[0] >= start)
    .map((p) => `${(((p[0] - start) / spanMs) * w).toFixed(1)},${(h - 1 - (p[1] / max) * (h - 2)).toFixed(1)}`)
    .join(' ');
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${label}"><polyline points="${xy}"/></svg>`;
}
