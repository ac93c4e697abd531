// Device commands (issue 15): what a command message sets, what is refused before anything is queued, and how a
// command's values are grouped into write requests (src/devices/commands/parse.ts, writer.ts planRuns).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommand, parseValue, type PointCommand } from '../../src/devices/commands/parse.js';
import { planRuns } from '../../src/devices/commands/writer.js';
import { validateCommands } from '../../src/config/device-commands.js';
import { registersOf } from '../../src/config/device-points.js';
import type { PointType, ResolvedPoint } from '../../src/config/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../src/config/validate.js';
import type { ModbusDeviceConfig } from '../../src/config/types.js';

function point(name: string, type: PointType, address: number, extra: Partial<ResolvedPoint> = {}): ResolvedPoint {
  return {
    name,
    table: type === 'bool' && extra.bit === undefined ? 'coil' : 'holding_register',
    address,
    type,
    quantity: type === 'bool' && extra.bit === undefined ? 1 : registersOf(type, extra.length ?? 0),
    length: undefined,
    bit: undefined,
    byteOrder: 'ABCD',
    scale: 1,
    offset: 0,
    unit: undefined,
    deadband: 0,
    publish: undefined,
    writable: true,
    min: undefined,
    max: undefined,
    allowed: undefined,
    ...extra,
  };
}

const points = new Map(
  [
    point('speed', 'uint16', 10, { min: 0, max: 100 }),
    point('valve', 'bool', 3),
    point('valve2', 'bool', 4),
    point('setpoint', 'float32', 20, { byteOrder: 'CDAB' }),
    point('total', 'int32', 22),
    point('far', 'uint16', 30),
    point('status', 'uint16', 40, { writable: false }),
    point('run', 'bool', 7, { bit: 4 }),
    point('mode', 'string', 50, { length: 4, allowed: ['auto', 'hand'] }),
  ].map((p) => [p.name, p]),
);
const buf = (s: string) => Buffer.from(s);

const parse = suite('device commands: parse and refuse');

parse('one point: JSON values, or the plain text itself', () => {
  assert.is(parseValue(buf('60')), 60);
  assert.is(parseValue(buf(' true ')), true);
  assert.is(parseValue(buf('"auto"')), 'auto');
  assert.is(parseValue(buf('auto')), 'auto');
  const ok = parseCommand(points, ['speed'], buf('60'));
  assert.ok(Array.isArray(ok));
  assert.equal((ok as PointCommand[])[0]!.encoded, { words: [60] });
  assert.ok(Array.isArray(parseCommand(points, ['mode'], buf('hand'))), 'a string point takes plain text');
});

parse('refusals carry 0x99, or 0x87 for a point that is not writable, and say why', () => {
  const refusal = (rest: string[], payload: string) => {
    const r = parseCommand(points, rest, buf(payload));
    assert.ok(!Array.isArray(r), `${rest.join('/')} ${payload} must be refused`);
    return r as { reasonCode: number; reason: string; values: Record<string, unknown> };
  };
  assert.equal([refusal(['speed'], '101').reasonCode, refusal(['speed'], '101').reason], [ReasonCode.PayloadFormatInvalid, 'point "speed": 101 is above max (100)']);
  assert.match(refusal(['speed'], '-1').reason, 'below min');
  assert.match(refusal(['speed'], 'fast').reason, 'expected a number');
  assert.is(refusal(['status'], '1').reasonCode, ReasonCode.NotAuthorized);
  assert.equal([refusal(['nozzle'], '1').reasonCode, refusal(['nozzle'], '1').reason], [ReasonCode.PayloadFormatInvalid, 'unknown point "nozzle"']);
  assert.match(refusal(['speed', 'x'], '1').reason, 'unknown point "speed/x"');
  assert.match(refusal(['valve'], '"open"').reason, 'expected true or false');
  assert.match(refusal(['run'], '2').reason, 'expected true or false');
  assert.match(refusal(['mode'], 'off').reason, 'not one of the allowed values');
  assert.match(refusal(['speed'], '[1]').reason, 'expected a number, boolean or string');
  // Several points: a JSON object, and one bad point refuses the whole command.
  assert.match(refusal([], 'speed=1').reason, 'JSON object');
  assert.match(refusal([], '{}').reason, 'non-empty');
  const bad = refusal([], '{"speed": 5, "status": 1}');
  assert.is(bad.reasonCode, ReasonCode.NotAuthorized);
  assert.equal(bad.values, { speed: 5, status: 1 });
});

parse('several points: each checked and encoded; a bit of a register is left to read-modify-write', () => {
  const r = parseCommand(points, [], buf('{"speed": 5, "run": true, "setpoint": 1.5}')) as PointCommand[];
  assert.equal(r.map((c) => [c.point.name, c.value]), [['speed', 5], ['run', true], ['setpoint', 1.5]]);
  assert.equal(r[1]!.encoded, { bitOf: true });
});

const plan = suite('device commands: write requests');

plan('consecutive registers of one command go in one request; a gap, another table or a bit of a register does not', () => {
  const cmds = parseCommand(points, [], buf('{"total": -2, "far": 9, "setpoint": 1.5, "speed": 3, "valve": true, "valve2": false, "run": false}')) as PointCommand[];
  const f = Buffer.alloc(4);
  f.writeFloatBE(1.5);
  assert.equal(
    planRuns(cmds).map((r) => [r.table, r.address, r.values, r.commands.map((c) => c.point.name)]),
    [
      ['coil', 3, [1, 0], ['valve', 'valve2']],
      ['holding_register', 10, [3], ['speed']],
      ['holding_register', 20, [f.readUInt16BE(2), f.readUInt16BE(0), 0xffff, 0xfffe], ['setpoint', 'total']],
      ['holding_register', 30, [9], ['far']],
    ],
  );
});

const config = suite('device commands: configuration');

config('defaults, and errors naming their key', () => {
  assert.equal(validateCommands('devices[0].commands', undefined, 'pump', []), {
    topic: 'devices/{device}/set',
    resultTopic: 'devices/{device}/results',
    resultQos: 1,
    maxDeliveries: 3,
    redeliveryDelayMs: 1000,
    deadLetter: 'devices.pump.commands.dead',
  });
  const errors: string[] = [];
  validateCommands('devices[0].commands', { topic: 'a/+/set', maxDeliveries: -1, redeliveryDelay: 5, deadLetter: 'a b', colour: 1 }, 'pump', errors);
  assert.equal(errors, [
    'devices[0].commands.colour: unknown key (allowed: topic, resultTopic, resultQos, maxDeliveries, redeliveryDelay, deadLetter)',
    'devices[0].commands.deadLetter: must be a queue name of 1-255 letters, digits, "_", "-" or "."; got "a b"',
    'devices[0].commands.topic: must be a topic name without "+", "#" or a leading "$"; got "a/+/set"',
    'devices[0].commands.maxDeliveries: must be an integer 0-1000; got -1',
    errors[4]!,
  ]);
  assert.match(errors[4]!, 'devices[0].commands.redeliveryDelay');
});

config('the README example of ## Commands to devices loads, with the defaults it says', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const at = readme.indexOf('\n## Commands to devices\n');
  const section = readme.slice(at, readme.indexOf('\n## ', at + 5));
  const [yamlBlock] = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parseYaml(m[1]!) as Record<string, unknown>);
  const r = validateConfig(yamlBlock!, {});
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  const pump = r.config.devices[0] as ModbusDeviceConfig;
  assert.equal(pump.commands, validateCommands('x', undefined, 'pump1', []));
  assert.equal(pump.points.filter((p) => p.writable).map((p) => p.name), ['speed', 'valve', 'setpoint', 'mode', 'running']);
});

parse.run();
plan.run();
config.run();
