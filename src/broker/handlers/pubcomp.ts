// PUBCOMP from a client: the outgoing QoS 2 exchange is complete; its packet identifier is free again.

import type { IPubcompPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';

export function handlePubcomp(conn: Connection, packet: IPubcompPacket): void {
  conn.session!.complete(packet.messageId!);
}
