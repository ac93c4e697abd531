// A slow disk for tests of what happens while an acknowledgement waits for its commit: session records (or queue
// definitions) are committed as usual, but their commits are reported only once `open()` is called.

import type { TestBroker } from './broker.js';

export function holdSessionCommits(tb: TestBroker): { open(): void } {
  return holdCommits(tb, 'saveSession');
}

export function holdQueueCommits(tb: TestBroker): { open(): void } {
  return holdCommits(tb, 'saveQueue');
}

type Commit = (...args: never[]) => Promise<void>;

function holdCommits(tb: TestBroker, method: 'saveSession' | 'saveQueue'): { open(): void } {
  const store = tb.broker.persistence!.store as unknown as Record<typeof method, Commit>;
  const real = store[method];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store[method] = (...args) => real.apply(store, args).then(() => gate);
  return {
    open() {
      store[method] = real;
      release();
    },
  };
}
