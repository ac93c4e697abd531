// AUTH: enhanced authentication is not offered, so a client sending AUTH violates the protocol [MQTT-4.12.0-?].

import type { IAuthPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';

export function handleAuth(_conn: Connection, _packet: IAuthPacket): void {
  throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH without enhanced authentication');
}
