// Serial ports present and usable by this user: the board's own UARTs (its profile's serialPorts) and whatever
// USB adapters are plugged in. A port that exists but cannot be opened read-write is nearly always a user not in
// the port's group (dialout on Debian and Raspberry Pi OS).

import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Check } from './types.js';

export interface SerialPort {
  path: string;
  /** Where a symlink such as /dev/serial0 points. */
  target: string;
  accessible: boolean;
  group: string;
}

const PATTERN = /^tty(USB|ACM|AMA|S)\d+$/;

function groupName(gid: number): string {
  try {
    return execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0] || String(gid);
  } catch {
    return String(gid);
  }
}

function describePort(path: string): SerialPort {
  const accessible = (() => {
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();
  return { path, target: realpathSync(path), accessible, group: groupName(statSync(path).gid) };
}

/** USB and on-board serial devices in /dev (the 8250 ttyS ports only where the board lists them: x86 has 32 placeholders). */
export function listSerialPorts(boardPorts: string[], dev = '/dev'): SerialPort[] {
  const names = readdirSync(dev).filter((n) => PATTERN.test(n) && !n.startsWith('ttyS'));
  const paths = new Set([...boardPorts.filter((p) => existsSync(p)), ...names.map((n) => `${dev}/${n}`)]);
  return [...paths].sort().map(describePort);
}

export function serialCheck(boardName: string | undefined, boardPorts: string[], dev = '/dev'): Check {
  const ports = listSerialPorts(boardPorts, dev);
  const missing = boardPorts.filter((p) => !existsSync(p));
  const denied = ports.filter((p) => !p.accessible);
  const details = { ports, missingBoardPorts: missing };
  const list = ports.map((p) => `${p.path}${p.target !== p.path ? ` -> ${p.target}` : ''}${p.accessible ? '' : ` (no access: group ${p.group})`}`).join(', ');
  if (denied.length > 0) {
    return { name: 'serial', verdict: 'warn', summary: `${denied.map((p) => p.path).join(', ')} not readable and writable by this user: add it to group ${denied[0]!.group} (the wharf package's user is in dialout)`, details };
  }
  if (boardName !== undefined && missing.length === boardPorts.length && boardPorts.length > 0) {
    return { name: 'serial', verdict: 'warn', summary: `none of ${boardName}'s serial ports (${boardPorts.join(', ')}) exists: enable the UART (raspi-config, enable_uart=1)${ports.length ? `; present: ${list}` : ''}`, details };
  }
  return { name: 'serial', verdict: ports.length > 0 ? 'ok' : 'info', summary: ports.length > 0 ? list : 'no serial ports (none on the board profile, no USB serial adapter plugged in)', details };
}
