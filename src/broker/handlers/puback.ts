// PUBACK from a client: the QoS 1 delivery is complete and its packet identifier free [MQTT-4.3.2-?].

import type { IPubackPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';

export function handlePuback(conn: Connection, packet: IPubackPacket): void {
  // An unknown identifier (late or duplicate acknowledgement) is ignored.
  conn.session!.complete(packet.messageId!);
}
