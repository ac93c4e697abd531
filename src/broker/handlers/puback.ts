// PUBACK from a client: the QoS 1 delivery is complete and its packet identifier free [MQTT-4.3.2-?].

import type { IPubackPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';

export function handlePuback(conn: Connection, packet: IPubackPacket): void {
  // An unknown identifier (late or duplicate acknowledgement) is ignored. The reason code matters for queue
  // deliveries: >= 0x80 rejects the message, which is then offered again (DESIGN "Queues").
  conn.session!.complete(packet.messageId!, packet.reasonCode ?? 0);
}
