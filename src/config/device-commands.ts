// The `commands:` key of a Modbus device (issue 15): where commands arrive, where their receipts go, and the
// delivery settings of the device's command queue (a durable last-value queue keyed by point).

import type { CommandsConfig } from './types.js';
import { checkKeys, describe, intRule, isMapping } from './rules.js';
import { durationBetween, enumNumber, opt, topicRule } from './device-rules.js';

export const DEFAULT_COMMAND_TOPIC = 'devices/{device}/set';
export const DEFAULT_RESULT_TOPIC = 'devices/{device}/results';
const COMMAND_KEYS = ['topic', 'resultTopic', 'resultQos', 'maxDeliveries', 'redeliveryDelay', 'deadLetter'];
const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

export function defaultCommands(device: string): CommandsConfig {
  return {
    topic: DEFAULT_COMMAND_TOPIC,
    resultTopic: DEFAULT_RESULT_TOPIC,
    resultQos: 1,
    maxDeliveries: 3,
    redeliveryDelayMs: 1000,
    deadLetter: `devices.${device}.commands.dead`,
  };
}

/** `devices[i].commands`; absent keys take the defaults above. */
export function validateCommands(path: string, raw: unknown, device: string, errors: string[]): CommandsConfig {
  const base = defaultCommands(device);
  if (raw === undefined || raw === null) return base;
  if (!isMapping(raw)) {
    errors.push(`${path}: expected a mapping (topic, resultTopic, resultQos, maxDeliveries, redeliveryDelay, deadLetter); got ${describe(raw)}`);
    return base;
  }
  checkKeys(path, raw, COMMAND_KEYS, errors);
  const deadLetter = opt(path, raw, 'deadLetter', (p, v, errs) => {
    if (typeof v === 'string' && QUEUE_NAME.test(v)) return v;
    errs.push(`${p}: must be a queue name of 1-255 letters, digits, "_", "-" or "."; got ${describe(v)}`);
    return undefined;
  }, base.deadLetter, errors);
  return {
    topic: opt(path, raw, 'topic', topicRule, base.topic, errors),
    resultTopic: opt(path, raw, 'resultTopic', topicRule, base.resultTopic, errors),
    resultQos: opt(path, raw, 'resultQos', enumNumber([0, 1, 2] as const), base.resultQos, errors),
    // 0: a command whose writes keep failing is retried for ever (it never reaches the dead-letter queue).
    maxDeliveries: opt(path, raw, 'maxDeliveries', intRule(0, 1000), base.maxDeliveries, errors),
    redeliveryDelayMs: opt(path, raw, 'redeliveryDelay', durationBetween(0, 3600_000, true), base.redeliveryDelayMs, errors),
    deadLetter,
  };
}


