// PUBREC from a client: step 1 of the outgoing QoS 2 handshake; answer PUBREL, or end it on a failure code.

import type { IPubrecPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../../protocol/reason-codes.js';

export function handlePubrec(conn: Connection, packet: IPubrecPacket): void {
  const session = conn.session!;
  const id = packet.messageId!;
  // A PUBREC with a reason code >= 0x80 ends the exchange; the identifier is free [MQTT-4.3.3-?].
  if ((packet.reasonCode ?? 0) >= ReasonCode.UnspecifiedError) {
    session.complete(id);
    return;
  }
  if (!session.release(id)) {
    // Unknown identifier: answer so the client can finish its state [MQTT-4.3.3-?], 0x92 on 5.0.
    conn.write({ cmd: 'pubrel', messageId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  }
}
