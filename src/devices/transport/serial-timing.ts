// The silent interval between RTU frames (MODBUS over Serial Line V1.02, section 2.5.1.1): at least 3.5 character
// times; above 19200 baud a fixed 1.75 ms, since timers that fine cost too much for what they buy.

export interface CharacterFormat {
  baudRate: number;
  dataBits?: number;
  parity?: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits?: number;
}

/** Bits of one character on the line: start bit, data bits, parity bit if any, stop bits (11 in RTU's 8E1). */
export function characterBits(format: CharacterFormat): number {
  return 1 + (format.dataBits ?? 8) + ((format.parity ?? 'none') === 'none' ? 0 : 1) + (format.stopBits ?? 1);
}

/** t3.5 in milliseconds for the format, or `overrideMs` when the bus configuration sets silentIntervalMs. */
export function silentIntervalMs(format: CharacterFormat, overrideMs?: number): number {
  if (overrideMs !== undefined) return overrideMs;
  if (format.baudRate > 19200) return 1.75;
  return (3.5 * characterBits(format) * 1000) / format.baudRate;
}
