// Prometheus text exposition format 0.0.4: metric families with HELP and TYPE once, before their samples,
// label values escaped (backslash, double quote, newline), numbers in Go's float notation (NaN, +Inf, -Inf).

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline only (a double quote stays as it is). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Builds one exposition. Families are written whole (header, then every sample), so samples of one family are
 * never split, and a family name used twice is a programming error caught here rather than by the scraper.
 */
export class ExpositionWriter {
  private readonly parts: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: MetricType, help: string, samples: Iterable<readonly [Labels, number]>): this {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
    this.parts.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
    for (const [labels, value] of samples) this.parts.push(`${name}${formatLabels(labels)} ${formatValue(value)}\n`);
    return this;
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): this {
    return this.family(name, type, help, [[{}, value]]);
  }

  text(): string {
    return this.parts.join('');
  }
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${k}`);
    out += `${i > 0 ? ',' : ''}${k}="${escapeLabelValue(labels[k]!)}"`;
  }
  return out + '}';
}
