// mqtt-packet calls its `debug` loggers several times per packet. A disabled `debug` logger still takes its
// arguments as a rest array, and those arrays were an eighth of all the bytes the broker allocated per queued
// message (allocation profile of bench scenario 7). Unless DEBUG is set, the `debug` module mqtt-packet resolves
// is put into the require cache as a logger factory that does nothing, before mqtt-packet is loaded.
// With DEBUG set (e.g. DEBUG=mqtt-packet:*), the real `debug` is used and nothing here happens.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';

type Logger = ((...args: unknown[]) => void) & { enabled: boolean; namespace: string; extend(sub: string): Logger; log(): void; destroy(): boolean };

function quietLogger(namespace: string): Logger {
  const logger = (() => undefined) as unknown as Logger;
  logger.enabled = false;
  logger.namespace = namespace;
  logger.extend = (sub: string) => quietLogger(`${namespace}:${sub}`);
  logger.log = () => undefined;
  logger.destroy = () => false;
  return logger;
}

/** The parts of debug's factory that libraries call; all of them quiet. */
const quietFactory = Object.assign((namespace: string) => quietLogger(namespace), {
  enable: () => undefined,
  disable: () => '',
  enabled: () => false,
  coerce: (v: unknown) => v,
  humanize: (ms: number) => `${ms}ms`,
  formatters: {},
  names: [],
  skips: [],
  log: () => undefined,
});

function quietDebugForMqttPacket(): void {
  if (process.env.DEBUG) return;
  const require = createRequire(import.meta.url);
  let debugPath: string;
  try {
    const packetDir = dirname(require.resolve('mqtt-packet'));
    debugPath = require.resolve('debug', { paths: [packetDir] });
  } catch {
    return; // a different layout: leave it alone
  }
  if (require.cache[debugPath] !== undefined) return; // already loaded by someone: too late, and not ours to swap
  const id = debugPath;
  require.cache[id] = { id, filename: id, loaded: true, exports: quietFactory, children: [], paths: [] } as unknown as NodeJS.Module;
}

quietDebugForMqttPacket();
