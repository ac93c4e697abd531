// Routes each parsed packet to its handler; packets a server never receives are protocol errors.

import type { Packet } from 'mqtt-packet';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { handleConnect } from './connect.js';
import { handlePublish } from './publish.js';
import { handlePuback } from './puback.js';
import { handlePubrec } from './pubrec.js';
import { handlePubrel } from './pubrel.js';
import { handlePubcomp } from './pubcomp.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';
import { handlePingreq } from './ping.js';
import { handleDisconnect } from './disconnect.js';
import { handleAuth } from './auth.js';

export function dispatchPacket(conn: Connection, packet: Packet): void {
  if (packet.cmd === 'connect') {
    handleConnect(conn, packet);
    return;
  }
  // The first packet from a client must be CONNECT [MQTT-3.1.0-1].
  if (!conn.connectReceived) throw new ProtocolViolation(ReasonCode.ProtocolError, `expected CONNECT, got ${packet.cmd}`);
  if (conn.session === null) return; // CONNECT was refused; the connection is closing
  // PUBLISH (QoS > 0), SUBSCRIBE and UNSUBSCRIBE carry a non-zero Packet Identifier [MQTT-2.2.1-3].
  if ((packet.cmd === 'subscribe' || packet.cmd === 'unsubscribe' || (packet.cmd === 'publish' && packet.qos > 0)) && packet.messageId === 0) {
    throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd} with Packet Identifier 0`);
  }
  switch (packet.cmd) {
    case 'publish':
      return handlePublish(conn, packet);
    case 'puback':
      return handlePuback(conn, packet);
    case 'pubrec':
      return handlePubrec(conn, packet);
    case 'pubrel':
      return handlePubrel(conn, packet);
    case 'pubcomp':
      return handlePubcomp(conn, packet);
    case 'subscribe':
      return handleSubscribe(conn, packet);
    case 'unsubscribe':
      return handleUnsubscribe(conn, packet);
    case 'pingreq':
      return handlePingreq(conn);
    case 'disconnect':
      return handleDisconnect(conn, packet);
    case 'auth':
      return handleAuth(conn, packet);
    default:
      throw new ProtocolViolation(ReasonCode.ProtocolError, `a client must not send ${packet.cmd}`);
  }
}
