// A strict checker of the Prometheus text exposition format 0.0.4, as scrapers parse it: metric and label name
// grammar, label value escapes, HELP/TYPE at most once per family and before its samples, a family's samples in
// one group, numeric values, no duplicate series. Throws with the line number; returns the parsed families.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`${where}: value ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

/** The family a sample name belongs to, given the families whose TYPE was declared. */
function familyOf(name: string, types: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = types.get(base);
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
}

/** Parses `{a="x",b="y"}` starting at text[i] === '{'; returns the labels and the index after '}'. */
function parseLabels(text: string, start: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (nameMatch === null) throw new Error(`${where}: bad label name at column ${i + 1}`);
    const name = nameMatch[0];
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: reserved or invalid label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} repeated`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`${where}: expected ="..." after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`${where}: raw newline in label ${name}`);
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: invalid escape \\${e ?? ''} in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

export function checkExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, Family>();
  const types = new Map<string, string>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { name, type: undefined, help: undefined, samples: [] }));
    return f;
  };
  const enter = (name: string, where: string) => {
    if (current === name) return;
    if (finished.has(name)) throw new Error(`${where}: family ${name} continues after another family started`);
    if (current !== undefined) finished.add(current);
    current = name;
  };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`${where}: invalid metric name ${name}`);
      const f = family(name!);
      if (f.samples.length > 0) throw new Error(`${where}: ${kind} for ${name} after its samples`);
      enter(name!, where);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: invalid escape in HELP of ${name}`);
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.includes(rest.trim())) throw new Error(`${where}: unknown type ${JSON.stringify(rest)} for ${name}`);
        f.type = rest.trim();
        types.set(name!, f.type);
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (nameMatch === null) throw new Error(`${where}: sample does not start with a metric name: ${JSON.stringify(line)}`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    const rest = line.slice(i);
    const m = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
    if (m === null) throw new Error(`${where}: expected a value (and optional timestamp) after ${name}: ${JSON.stringify(rest)}`);
    const value = parseValue(m[1]!, where);
    const fam = familyOf(name, types);
    enter(fam, where);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) throw new Error(`${where}: duplicate series ${name}${JSON.stringify(labels)}`);
    series.add(key);
    family(fam).samples.push({ name, labels, value });
  });
  return families;
}

/** Conventions Wharf keeps on top of the grammar: every family typed and documented, counters `_total` and >= 0. */
export function checkWharfConventions(families: Map<string, Family>): void {
  for (const f of families.values()) {
    if (!f.name.startsWith('wharf_')) throw new Error(`${f.name}: not a wharf_* metric`);
    if (f.type === undefined || f.help === undefined || f.help.trim() === '') throw new Error(`${f.name}: missing TYPE or HELP`);
    if (f.type === 'counter') {
      if (!f.name.endsWith('_total')) throw new Error(`${f.name}: counter without _total`);
      for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`${f.name}: negative or NaN counter ${s.value}`);
    }
  }
}

/** The value of one series; throws when it is missing. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(labels);
      if (Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}
