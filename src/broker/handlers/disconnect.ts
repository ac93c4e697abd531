// DISCONNECT from a client: a normal disconnection discards the will [MQTT-3.1.2-10]; 5.0 clients may change
// the session expiry interval, but not from 0 to non-zero [MQTT-3.14.2-?].

import type { IDisconnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';

export function handleDisconnect(conn: Connection, packet: IDisconnectPacket): void {
  const session = conn.session!;
  const newExpiry = packet.properties?.sessionExpiryInterval;
  if (newExpiry !== undefined) {
    if (session.expiryInterval === 0 && newExpiry !== 0) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'session expiry changed from 0 on DISCONNECT');
    }
    session.expiryInterval = Math.min(newExpiry, conn.broker.config.mqtt.maxSessionExpiryInterval);
  }
  // Only 0x00 Normal disconnection discards the will [MQTT-3.1.2-10]; 0x04 and error codes keep it.
  conn.graceful = (packet.reasonCode ?? 0) === ReasonCode.NormalDisconnection;
  conn.close();
}
