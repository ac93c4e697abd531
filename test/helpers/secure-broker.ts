// An in-process test broker with a tls and a wss listener beside its tcp/ws ones, for the transport tests.

import { startBroker, type TestBroker } from './broker.js';

export interface SecureBroker extends TestBroker {
  tlsPort: number;
  wssPort: number;
}

/** Files the secure listeners serve: certificate and key, and `ca` to complete the chain when given. */
export interface ServedCertificate {
  cert: string;
  key: string;
  ca?: string;
}

export async function withSecureBroker(served: ServedCertificate, fn: (tb: SecureBroker) => Promise<void>): Promise<void> {
  const extra = served.ca ? { ca: served.ca } : {};
  const tb = await startBroker({}, (c) => {
    for (const type of ['tls', 'wss'] as const) c.listeners.push({ type, host: '127.0.0.1', port: 0, path: '/mqtt', cert: served.cert, key: served.key, ...extra });
  });
  try {
    const bound = tb.broker.boundListeners();
    const port = (type: string) => bound.find((b) => b.type === type)!.port;
    await fn({ ...tb, tlsPort: port('tls'), wssPort: port('wss') });
  } finally {
    await tb.stop();
  }
}
