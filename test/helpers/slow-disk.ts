// A slow disk for tests of what happens while the broker waits for a commit: session records (or queue
// definitions) are committed as usual, but their commits are reported only once `open()` is called; or the store
// looks behind (storage.maxPendingBytes exceeded) until then, so publishers are not read.

import type { TestBroker } from './broker.js';

export function holdSessionCommits(tb: TestBroker): { open(): void } {
  return holdCommits(tb, 'saveSession');
}

export function holdQueueCommits(tb: TestBroker): { open(): void } {
  return holdCommits(tb, 'saveQueue');
}

/** Until `open()`, the store reports more pending bytes than any limit and its flush does not end. */
export function holdStoreBehind(tb: TestBroker): { open(): void } {
  const store = tb.broker.persistence!.store;
  const { pendingBytes, flush } = store;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store.pendingBytes = () => Number.MAX_SAFE_INTEGER;
  store.flush = () => flush.call(store).then(() => gate);
  return {
    open() {
      store.pendingBytes = pendingBytes;
      store.flush = flush;
      release();
    },
  };
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
