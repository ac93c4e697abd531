// PUBREL from a client: step 2 of the incoming QoS 2 handshake; the packet identifier may be reused after PUBCOMP.

import type { IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../../protocol/reason-codes.js';

export function handlePubrel(conn: Connection, packet: IPubrelPacket): void {
  const id = packet.messageId!;
  const known = conn.session!.incomingQos2.delete(id);
  // PUBCOMP is sent even for an unknown identifier, with 0x92 on 5.0 [MQTT-4.3.3-11].
  conn.write({ cmd: 'pubcomp', messageId: id, reasonCode: known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound });
}
