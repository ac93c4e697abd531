import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExpositionWriter, escapeLabelValue, formatValue } from '../../src/metrics/prometheus.js';
import { checkExposition, checkWharfConventions, sampleValue } from '../helpers/prom-checker.js';

const ok = (text: string) => checkExposition(text);
const bad = (text: string, why: RegExp) => assert.throws(() => checkExposition(text), why);

test('the checker accepts a well-formed exposition and parses its values', () => {
  const f = ok('# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1"} 3\na_total{x="2"} 4.5e3\n# TYPE b gauge\nb NaN\nb{y="z"} -Inf 1700000000000\n');
  assert.is(sampleValue(f, 'a_total', { x: '2' }), 4500);
  assert.ok(Number.isNaN(sampleValue(f, 'b')));
  assert.is(sampleValue(f, 'b', { y: 'z' }), -Infinity);
});

test('the checker rejects what scrapers reject', () => {
  bad('1abc 1\n', /metric name/);
  bad('a{1x="v"} 1\n', /label name/);
  bad('a{__x="v"} 1\n', /reserved/);
  bad('a{x="v\\t"} 1\n', /invalid escape/);
  bad('a{x="v} 1\n', /unterminated|expected/);
  bad('a{x="v",x="w"} 1\n', /repeated/);
  bad('a one\n', /not a number/);
  bad('a 1\n# TYPE a gauge\n', /after its samples/);
  bad('# TYPE a gauge\n# TYPE a gauge\na 1\n', /second TYPE/);
  bad('# HELP a x\n# HELP a y\na 1\n', /second HELP/);
  bad('# TYPE a sometype\n', /unknown type/);
  bad('a 1\nb 1\na{x="1"} 2\n', /continues after/);
  bad('a{x="1"} 1\na{x="1"} 2\n', /duplicate series/);
  bad('a 1', /newline/);
  assert.throws(() => checkWharfConventions(ok('# HELP wharf_x_total x\n# TYPE wharf_x_total counter\nwharf_x_total -1\n')), /negative/);
  assert.throws(() => checkWharfConventions(ok('# HELP wharf_x x\n# TYPE wharf_x counter\nwharf_x 1\n')), /_total/);
  assert.throws(() => checkWharfConventions(ok('# TYPE other gauge\nother 1\n')), /wharf_/);
});

test('label values are escaped so that any client identifier round-trips', () => {
  const nasty = 'a"b\\c\nd}e,f="g"';
  assert.is(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const text = new ExpositionWriter().family('wharf_t_total', 'counter', 'Help with \\ and\nnewline "quoted".', [[{ client: nasty }, 1]]).text();
  const f = checkExposition(text);
  checkWharfConventions(f);
  assert.is(sampleValue(f, 'wharf_t_total', { client: nasty }), 1);
  assert.is(f.get('wharf_t_total')!.help, 'Help with \\ and\nnewline "quoted".');
});

test('values use Prometheus spellings for non-finite numbers', () => {
  assert.is(formatValue(NaN), 'NaN');
  assert.is(formatValue(Infinity), '+Inf');
  assert.is(formatValue(-Infinity), '-Inf');
  assert.is(formatValue(0.25), '0.25');
});

test('the writer refuses an invalid name and a family written twice', () => {
  assert.throws(() => new ExpositionWriter().single('bad-name', 'gauge', 'x', 1), /invalid metric name/);
  assert.throws(() => new ExpositionWriter().single('wharf_a', 'gauge', 'x', 1).single('wharf_a', 'gauge', 'x', 1), /twice/);
  assert.throws(() => new ExpositionWriter().family('wharf_a', 'gauge', 'x', [[{ 'bad-label': 'v' }, 1]]), /label name/);
});

test.run();
