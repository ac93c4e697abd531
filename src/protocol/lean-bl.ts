// mqtt-packet's parser requires `bl` for one call, `bl()`, the list its unparsed bytes go into. bl's main module is
// BufferListStream, a Duplex: requiring it loads readable-stream (some 190 KB of source and its modules, about
// 0.5 MB of idle RSS, issue 13) for a list whose stream side no parser uses (codec.ts replaces the list anyway).
// Before mqtt-packet loads, bl's main module is put into the require cache as a factory of the plain BufferList,
// which has every list method the parser calls. mqtt-packet is the only package here that requires `bl`.

import { createRequire } from 'node:module';

function leanBlForMqttPacket(): void {
  const require = createRequire(import.meta.url);
  let packetRequire: NodeJS.Require;
  let blPath: string;
  try {
    packetRequire = createRequire(require.resolve('mqtt-packet'));
    blPath = packetRequire.resolve('bl');
  } catch {
    return; // a different layout: leave it alone
  }
  if (require.cache[blPath] !== undefined) return; // loaded already: too late, and not ours to swap
  const BufferList = packetRequire('bl/BufferList.js') as new () => object;
  const factory = () => new BufferList();
  require.cache[blPath] = { id: blPath, filename: blPath, loaded: true, exports: factory, children: [], paths: [] } as unknown as NodeJS.Module;
}

leanBlForMqttPacket();
