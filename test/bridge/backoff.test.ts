import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff } from '../../src/bridge/backoff.js';
import { CatchUpPacer } from '../../src/bridge/lanes.js';

const backoff = suite('bridge reconnect backoff and catch-up pacer');

backoff('decorrelated jitter stays between the base and the cap, grows up to three times the last delay, and resets', () => {
  let r = 0.5;
  const b = new Backoff(100, 2000, () => r);
  const delays = Array.from({ length: 8 }, () => b.next());
  assert.equal(delays.slice(0, 3), [200, 350, 575]);
  assert.ok(delays.every((d) => d >= 100 && d <= 2000));
  assert.is(delays[7], 2000, 'capped');
  r = 1;
  assert.is(b.next(), 2000);
  b.reset();
  r = 0;
  assert.is(b.next(), 100, 'after a successful connection the next outage starts from the base');
});

backoff('the pacer lets ratePerSecond messages through per second of a clock it is given', () => {
  const p = new CatchUpPacer(100);
  p.restart(0);
  let sent = 0;
  for (let now = 0; now <= 1000; now++) {
    while (p.allows(now)) {
      p.take();
      sent++;
    }
  }
  assert.ok(sent >= 100 && sent <= 102, `${sent} in one second at 100/s`);
});

backoff.run();
