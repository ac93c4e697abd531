// A slow disk for tests of what happens while an acknowledgement waits for its commit: session records are
// committed as usual, but their commits are reported only once `open()` is called.

import type { TestBroker } from './broker.js';

export function holdSessionCommits(tb: TestBroker): { open(): void } {
  const store = tb.broker.persistence!.store;
  const save = store.saveSession.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store.saveSession = (state) => save(state).then(() => gate);
  return {
    open() {
      store.saveSession = save;
      release();
    },
  };
}
