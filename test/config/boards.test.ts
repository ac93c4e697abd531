import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';
import { listBoards } from '../../src/config/boards.js';

const boards = suite('board profiles');

boards('every shipped profile validates on its own', () => {
  const names = listBoards();
  assert.ok(names.includes('rpi-zero-2w') && names.includes('rpi4'), `profiles found: ${names.join(', ')}`);
  for (const name of names) {
    const result = validateConfig({ board: name });
    assert.ok('config' in result, `${name}: ${'errors' in result ? result.errors.join('; ') : ''}`);
  }
});

boards('a profile sets defaults that the file overrides key by key', () => {
  const result = validateConfig({ board: 'rpi-zero-2w', mqtt: { maxQueuedMessages: 50 } });
  assert.ok('config' in result);
  if (!('config' in result)) return;
  assert.is(result.config.mqtt.maxQueuedMessages, 50);
  assert.is(result.config.mqtt.maxPacketSize, 256 * 1024);
  assert.is(result.config.mqtt.maxSocketBufferBytes, 512 * 1024);
});

boards('an unknown board names the key and the known profiles', () => {
  const result = validateConfig({ board: 'rpi9' });
  assert.ok('errors' in result);
  if (!('errors' in result)) return;
  assert.is(result.errors.length, 1);
  assert.match(result.errors[0]!, /^board: expected one of .*rpi-zero-2w.*; got "rpi9"$/);
});

boards('errors in the file are still reported alongside a board', () => {
  const result = validateConfig({ board: 'rpi4', mqtt: { receiveMaximum: 0 } });
  assert.ok('errors' in result);
  if (!('errors' in result)) return;
  assert.match(result.errors.join('\n'), /mqtt\.receiveMaximum: must be an integer 1-65535/);
});

boards.run();
