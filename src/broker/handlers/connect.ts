// CONNECT (MQTT 5.0 section 3.1 / 3.1.1 section 3.1): identify and authenticate the client (src/auth/), take over or
// create its session, announce the server's limits in CONNACK, then resume the session's pending deliveries.

import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { nodeCrypto } from '../../lazy-builtins.js';
import { isValidTopicName } from '../../protocol/topic.js';
import { connackCodeFor311, ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { StoreFullError } from '../../store/errors.js';
import { pruneSubscriptions } from '../../auth/session-prune.js';
import { discardForAnotherUser, ownedByAnother } from '../../auth/session-owner.js';

export function handleConnect(conn: Connection, packet: IConnectPacket): void {
  // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
  if (conn.connectReceived) throw new ProtocolViolation(ReasonCode.ProtocolError, 'second CONNECT on one connection');
  conn.connectReceived = true;
  const version = packet.protocolVersion ?? 4;
  conn.protocolVersion = version;
  conn.parser.setProtocolVersion(version);
  const broker = conn.broker;
  const limits = broker.config.mqtt;
  const props = packet.properties ?? {};
  const v5 = version === 5;
  const cleanStart = packet.clean !== false;

  if (v5) {
    // A Receive Maximum or Maximum Packet Size of 0 is a protocol error [MQTT-3.1.2-?, section 3.1.2.11].
    if (props.receiveMaximum === 0) return refuse(conn, ReasonCode.ProtocolError, 'Receive Maximum of 0');
    if (props.maximumPacketSize === 0) return refuse(conn, ReasonCode.ProtocolError, 'Maximum Packet Size of 0');
    conn.clientReceiveMaximum = props.receiveMaximum ?? 65535;
    conn.clientMaximumPacketSize = props.maximumPacketSize ?? 0;
    conn.clientTopicAliasMaximum = props.topicAliasMaximum ?? 0;
    conn.requestProblemInformation = props.requestProblemInformation !== false;
    // Enhanced authentication is not offered [MQTT-4.12.0-1].
    if (props.authenticationMethod !== undefined) return refuse(conn, ReasonCode.BadAuthenticationMethod, 'enhanced authentication is not supported');
  }

  let clientId = packet.clientId ?? '';
  let assignedClientId: string | undefined;
  if (clientId.length === 0) {
    // 3.1.1 only allows an empty identifier with a clean session [MQTT-3.1.3-7] [MQTT-3.1.3-8].
    if (!limits.allowEmptyClientId || (!v5 && !cleanStart)) return refuse(conn, ReasonCode.ClientIdentifierNotValid, 'empty client identifier');
    clientId = `wharf-${nodeCrypto().randomBytes(9).toString('base64url')}`;
    assignedClientId = clientId;
  } else if (Buffer.byteLength(clientId) > limits.maxClientIdLength) {
    return refuse(conn, ReasonCode.ClientIdentifierNotValid, `client identifier longer than ${limits.maxClientIdLength} bytes`);
  }
  conn.clientId = clientId;

  if (packet.will) {
    const will = packet.will;
    if (!isValidTopicName(will.topic)) return refuse(conn, ReasonCode.TopicNameInvalid, 'invalid will topic');
    const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : (will.payload ?? Buffer.alloc(0));
    const { willDelayInterval, ...publishProps } = will.properties ?? {};
    conn.will = {
      topic: will.topic,
      payload,
      qos: will.qos ?? 0,
      retain: will.retain === true,
      properties: Object.keys(publishProps).length > 0 ? publishProps : undefined,
      delayInterval: willDelayInterval ?? 0,
    };
  }

  // The connection limit counts sockets, this one included; those that never send CONNECT are bounded by
  // mqtt.connectTimeout and mqtt.maxPendingConnectionsPerAddress.
  if (broker.connections.size > limits.maxConnections) return refuse(conn, ReasonCode.QuotaExceeded, `the broker has its maximum of ${limits.maxConnections} connections`);

  // Authentication may take a password hash's time (PBKDF2 on the thread pool): packets the client sends
  // meanwhile wait and are handled in order after CONNACK.
  conn.holdPackets();
  const peer = conn.peer;
  broker.auth
    .authenticate({
      username: packet.username === undefined || packet.username === null ? undefined : packet.username,
      password: packet.password,
      certificateIdentity: peer?.certificateIdentity,
      useIdentity: peer?.listener.useIdentityAsUsername === true,
      clientId,
      remoteAddress: conn.remoteAddress,
    })
    .then(
      (result) => {
        if (conn.closed) return;
        if (!result.ok) {
          // Repeated failures from one address are answered late (src/auth/login-throttle.ts).
          const answer = () => refuse(conn, result.reasonCode, result.why);
          if (result.delayMs > 0) setTimeout(answer, result.delayMs).unref();
          else answer();
          return;
        }
        // Until here the socket counted as pending for its address: a password guesser holding connections in
        // authentication or in the slow-down is bounded by mqtt.maxPendingConnectionsPerAddress too.
        broker.pendingConnections.settle(conn);
        let pending: boolean;
        try {
          pending = openSession(conn, packet, clientId, assignedClientId, result.username);
        } catch (err) {
          // As Connection.handle does for a synchronous handler: one connection closes, the broker goes on.
          broker.log.error('packet handler failed', { clientId, cmd: 'connect', error: String((err as Error)?.stack ?? err) });
          conn.close(ReasonCode.ImplementationSpecificError);
          return;
        }
        if (!pending) conn.releasePackets();
      },
      (err: unknown) => {
        broker.log.error('authentication failed', { clientId, error: String((err as Error)?.message ?? err) });
        refuse(conn, ReasonCode.UnspecifiedError, 'authentication failed');
      },
    );
}

/**
 * The CONNECT of an authenticated client: take over or create the session and answer CONNACK. True while the
 * answer waits for the session's commit (packets stay held until then).
 */
function openSession(conn: Connection, packet: IConnectPacket, clientId: string, assignedClientId: string | undefined, username: string | undefined): boolean {
  const broker = conn.broker;
  const limits = broker.config.mqtt;
  const version = conn.protocolVersion;
  const v5 = version === 5;
  const props = packet.properties ?? {};
  const cleanStart = packet.clean !== false;
  // Session expiry: 5.0 property, capped by the server; 3.1.1 clean session 0 keeps the session for the cap.
  const requestedExpiry = v5 ? (props.sessionExpiryInterval ?? 0) : cleanStart ? 0 : limits.maxSessionExpiryInterval;
  const expiry = Math.min(requestedExpiry, limits.maxSessionExpiryInterval);

  let serverKeepAlive: number | undefined;
  let keepAlive = packet.keepalive ?? 0;
  if (keepAlive > limits.maxKeepAlive || (keepAlive === 0 && limits.maxKeepAlive < 65535)) {
    if (v5) {
      serverKeepAlive = limits.maxKeepAlive;
      keepAlive = serverKeepAlive;
    }
  }

  // A will is a publish the client asks for in advance: its topic needs the write right now, as in Mosquitto.
  const acl = broker.auth.sessionAcl(username, clientId);
  if (conn.will !== null && acl !== null && !acl.canWrite(conn.will.topic)) {
    refuse(conn, ReasonCode.NotAuthorized, 'the will topic is not authorized');
    return true;
  }
  // Another user does not inherit a session (its subscriptions, its queued messages) by reusing the client
  // identifier: with an ACL, a session opened by a different user name starts clean (README, Security).
  // The owner is recorded with a persistent session, so this holds after a restart too (src/auth/session-owner.ts).
  const previous = broker.sessions.byClientId.get(clientId);
  const otherUser = acl !== null && previous !== undefined && ownedByAnother(previous, username);
  if (otherUser && !cleanStart) discardForAnotherUser(broker, previous);
  const { session, present } = broker.sessions.open(conn, clientId, cleanStart || otherUser, expiry);
  session.acl = acl;
  session.username = username ?? null;
  if (present && acl !== null) pruneSubscriptions(broker, session, acl);

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present, reasonCode: ReasonCode.Success };
  if (v5) {
    connack.properties = {
      receiveMaximum: limits.receiveMaximum,
      maximumPacketSize: limits.maxPacketSize,
      topicAliasMaximum: limits.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      sharedSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
    };
    if (expiry !== requestedExpiry) connack.properties.sessionExpiryInterval = expiry;
    if (assignedClientId !== undefined) connack.properties.assignedClientIdentifier = assignedClientId;
    if (serverKeepAlive !== undefined) connack.properties.serverKeepAlive = serverKeepAlive;
  } else {
    connack.returnCode = 0;
    delete connack.reasonCode;
  }
  conn.setKeepAlive(keepAlive);
  const accept = () => {
    conn.write(connack);
    broker.log.info('client connected', {
      clientId,
      remote: conn.remoteAddress,
      protocol: version === 5 ? '5.0' : version === 4 ? '3.1.1' : '3.1',
      cleanStart,
      sessionPresent: present,
      keepAlive,
    });
    broker.sessions.attach(conn, session);
  };
  // A persistent session is on disk before CONNACK tells the client it exists; packets the client sends
  // meanwhile wait and are handled in order after it.
  const durable = broker.sessions.persistOnConnect(conn, session);
  if (durable === undefined) {
    accept();
    return false;
  }
  conn.holdPackets();
  durable.then(
    () => {
      if (broker.sessions.connectSettled(conn, session, true)) {
        accept();
        conn.releasePackets();
      }
    },
    (err) => {
      broker.persistence?.failed('connect', err);
      refuse(conn, err instanceof StoreFullError ? ReasonCode.QuotaExceeded : ReasonCode.ServerUnavailable, 'the session could not be stored');
      broker.sessions.connectSettled(conn, session, false);
    },
  );
  return true;
}

/** Refuses a CONNECT with a reason code and closes the connection [MQTT-3.2.2-6] [MQTT-3.2.2-7]. */
function refuse(conn: Connection, reasonCode: number, why: string): void {
  conn.broker.stats.connectsRefused++;
  conn.broker.log.info('connect refused', { clientId: conn.clientId || undefined, remote: conn.remoteAddress, reason: `0x${reasonCode.toString(16)}`, detail: why });
  if (conn.protocolVersion === 5) {
    const properties = conn.requestProblemInformation ? { reasonString: why } : undefined;
    conn.write({ cmd: 'connack', sessionPresent: false, reasonCode, properties });
  } else {
    conn.write({ cmd: 'connack', sessionPresent: false, returnCode: connackCodeFor311(reasonCode) });
  }
  // The CONNACK already carried the reason: close without a DISCONNECT [MQTT-3.2.2-7].
  conn.connectReceived = false;
  conn.close();
}
