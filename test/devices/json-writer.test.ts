import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonWriter } from '../../src/devices/json-writer.js';

const test = suite('devices: json writer');

test('numbers are written as JSON.stringify writes them', () => {
  const values = [0, -0, 1, 9, 10, 99, 100, 65535, -32768, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 0.1, -1.5, 230.1, 1.125, 3.4028234663852886e38, 5e-324];
  for (const n of values) assert.is(new JsonWriter().begin().number(n).finish().toString(), JSON.stringify(n), String(n));
});

test('strings are escaped and written as UTF-8; documents larger than the scratch buffer grow it', () => {
  const w = new JsonWriter().begin().byte(0x5b);
  const parts: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = `p${i} "q" \\ é ✓ \n`;
    parts.push(s);
    if (i > 0) w.byte(0x2c);
    w.string(s).byte(0x2c).number(i * 7 - 3000);
  }
  const text = w.byte(0x5d).finish().toString('utf8');
  assert.ok(text.length > 8192);
  assert.equal(JSON.parse(text), parts.flatMap((s, i) => [s, i * 7 - 3000]));
  // The next document starts from nothing.
  assert.is(new JsonWriter().begin().ascii('{}').finish().toString(), '{}');
});

test.run();
