// PUBREL from a client: step 2 of the incoming QoS 2 handshake; the packet identifier may be reused after PUBCOMP.

import type { IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../../protocol/reason-codes.js';

export function handlePubrel(conn: Connection, packet: IPubrelPacket): void {
  const id = packet.messageId!;
  const session = conn.session!;
  const known = session.incomingQos2.delete(id);
  // The identifier is forgotten on disk before PUBCOMP: after a crash, a new PUBLISH reusing it must not be
  // taken for a duplicate and dropped.
  const durable = known && session.hooks !== null ? conn.broker.persistence?.removeIncomingQos2(session.clientId, id) : undefined;
  // PUBCOMP is sent even for an unknown identifier, with 0x92 on 5.0 [MQTT-4.3.3-11].
  const reasonCode = known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound;
  conn.acknowledge(durable, (err) => {
    if (err !== undefined) conn.broker.persistence?.failed('pubrel', err);
    conn.write({ cmd: 'pubcomp', messageId: id, reasonCode });
  });
}
