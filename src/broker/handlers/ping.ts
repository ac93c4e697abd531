// PINGREQ: answer PINGRESP [MQTT-3.12.4-1]; the packet itself already reset the keep-alive clock.

import type { Connection } from '../connection.js';

export function handlePingreq(conn: Connection): void {
  conn.write({ cmd: 'pingresp' });
}
