// One network connection (TCP or WebSocket stream): packet framing, write batching, keep alive, topic aliases,
// and the link between its socket and the session it is attached to after CONNECT.

import type { Duplex } from 'node:stream';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { ackSize, createPacketParser, encodePacket, writeAck, type PacketParser, type ProtocolVersion } from '../protocol/codec.js';
import { encodeMessageProperties, encodePublish, PAYLOAD_COPY_MAX, type DeliveryProperties } from '../protocol/publish-encoder.js';
import { ConnackReturnCode311, ProtocolViolation, ReasonCode } from '../protocol/reason-codes.js';
import type { Broker } from './broker.js';
import { remainingExpirySeconds } from '../protocol/message.js';
import type { Outgoing, Session, SessionLink } from './session.js';
import { dispatchPacket } from './handlers/index.js';
import type { PeerInfo } from './listeners.js';
import { Fifo } from './fifo.js';
import { PendingAck, type AckAction, type AckOwner } from './pending-ack.js';

export interface Will {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: IPublishPacket['properties'];
  delayInterval: number;
}

let connectionCounter = 0;

/** Room for 128 acknowledgements of 4 bytes: one allocation (a slice of Node's pool) per 128. */
const ACK_BUFFER_BYTES = 512;

export class Connection implements SessionLink, AckOwner {
  readonly id = ++connectionCounter;
  /** When the socket was accepted (ms since the epoch), for the admin API's client list. */
  readonly connectedAt = Date.now();
  readonly parser: PacketParser;
  protocolVersion: ProtocolVersion = 4;
  /** Set once CONNACK with success has been sent. */
  session: Session | null = null;
  clientId = '';
  connectReceived = false;
  closed = false;
  will: Will | null = null;
  /** A DISCONNECT with reason 0x00 was received: the will is not published [MQTT-3.1.2-10]. */
  graceful = false;
  /** The listener and client certificate identity, set by the broker on accept (null for in-process streams). */
  peer: PeerInfo | null = null;
  /** Why the broker closed this connection (for the disconnect log line); undefined when the client did. */
  closeReason: string | undefined;

  // Limits announced by the client in CONNECT (5.0 properties; 3.1.1 defaults).
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = 0;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;

  keepAliveMs = 0;
  lastPacketAt = Date.now();
  private keepAliveTimer: NodeJS.Timeout | null = null;

  /** Incoming QoS 1/2 publishes not yet acknowledged to the client, for our Receive Maximum [MQTT-3.3.4-8]. */
  incomingInflight = 0;
  /** Incoming topic aliases set by the client [MQTT-3.3.2-12]; created by the first one (most clients set none). */
  aliasesIn: Map<number, string> | null = null;
  /** Outgoing topic aliases we assigned, by topic. */
  private aliasesOut: Map<string, number> | null = null;

  private outgoing: Buffer[] = [];
  private outgoingBytes = 0;
  private flushScheduled = false;
  /**
   * Acknowledgements are written into this buffer as they go, and its bytes since `ackStart` join `outgoing` as
   * one Buffer (before any other write, and at the flush): a window of 64 PUBACKs is one Buffer, not 64 packet
   * objects, 64 Buffers and a concatenation (issue 13). Bytes once handed on are never written again.
   */
  private ackBuf: Buffer | null = null;
  private ackStart = 0;
  private ackEnd = 0;
  /** Packets that arrived while CONNACK waits for the session's commit; handled in order once it is sent. */
  private held: Packet[] | null = null;
  /** Acknowledgements waiting for a commit; later ones queue behind them to keep their order [MQTT-4.6.0-2]. */
  private readonly acks = new Fifo<PendingAck>();
  private acksDrainScheduled = false;
  private throttled = false;

  constructor(
    readonly stream: Duplex,
    readonly broker: Broker,
    readonly remoteAddress: string,
  ) {
    this.parser = createPacketParser(
      broker.config.mqtt.maxPacketSize,
      (p) => this.onPacket(p),
      (err) => this.protocolError(err),
    );
    // Module-level listeners that find the connection on the stream: no closures per connection (issue 13).
    (stream as ConnectionStream)[CONNECTION] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamClosed);
    stream.on('close', onStreamClosed);
    stream.on('end', onStreamEnd);
    // A client must send CONNECT within a reasonable time, or the slot is reclaimed.
    this.keepAliveMs = broker.connectTimeoutMs;
    this.scheduleKeepAlive(this.keepAliveMs);
  }

  private onPacket(packet: Packet): void {
    this.lastPacketAt = Date.now();
    if (this.held !== null) {
      this.held.push(packet);
      return;
    }
    this.handle(packet);
  }

  private handle(packet: Packet): void {
    try {
      dispatchPacket(this, packet);
    } catch (err) {
      if (err instanceof ProtocolViolation) this.protocolError(err);
      else {
        this.broker.log.error('packet handler failed', { clientId: this.clientId, cmd: packet.cmd, error: String((err as Error)?.stack ?? err) });
        this.close(ReasonCode.ImplementationSpecificError);
      }
    }
  }

  /** Packets after CONNECT wait while its CONNACK waits for a commit (clients may send before CONNACK). */
  holdPackets(): void {
    this.held ??= [];
  }

  releasePackets(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const p of held) {
      if (this.closed) return;
      this.handle(p);
    }
  }

  /**
   * The connection closed while packets waited for a commit (its CONNACK's, or a queue's creation): the packets
   * that arrived before the close are handled in order all the same (a QoS 0 PUBLISH has no other chance; a DISCONNECT discards the will), with nothing
   * written back. A DISCONNECT or a protocol violation ends them, as on an open connection.
   */
  handleHeldAfterClose(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const p of held) {
      try {
        dispatchPacket(this, p);
      } catch (err) {
        if (!(err instanceof ProtocolViolation)) this.broker.log.error('packet handler failed', { clientId: this.clientId, cmd: p.cmd, error: String((err as Error)?.stack ?? err) });
        return;
      }
      if (p.cmd === 'disconnect') return;
    }
  }

  /**
   * Runs `send` once `durable` has settled (with the error if it failed), after every earlier acknowledgement of
   * this connection: PUBACKs leave in the order of their PUBLISHes even when only some wait for a commit.
   */
  acknowledge(durable: Promise<void> | undefined, send: (err: unknown) => void): void {
    if (durable === undefined && this.acks.length === 0) {
      send(undefined);
      return;
    }
    const ack = new PendingAck(this, runSend, 0, 0, 0, send);
    if (durable !== undefined) {
      ack.waiting++;
      durable.then(
        () => ack.durable(undefined),
        (err) => ack.durable(err),
      );
    }
    this.queueAck(ack);
  }

  /** An acknowledgement for a packet being handled: the handler hands its writes the ack as their waiter. */
  pendingAck(action: AckAction, packetId: number, qos: number, reasonCode: number): PendingAck {
    return new PendingAck(this, action, packetId, qos, reasonCode, undefined);
  }

  /**
   * Queues `ack` behind the acknowledgements before it and releases the handler's hold: with nothing before it
   * and nothing to wait for, it is sent at once.
   */
  queueAck(ack: PendingAck): void {
    const settled = ack.release();
    if (settled && this.acks.length === 0) {
      ack.action(ack, ack.error);
      return;
    }
    this.acks.push(ack);
    if (settled) this.ackReady();
  }

  ackReady(): void {
    if (this.acksDrainScheduled || this.readyAck() === undefined) return;
    this.acksDrainScheduled = true;
    process.nextTick(drainAcksOf, this);
  }

  /**
   * Sends the acknowledgements whose writes are durable, oldest first, up to the first still waiting. Also once
   * the connection has closed: write() then drops the packet, but what the acknowledgement does besides (the
   * retained messages of a persistent session's new subscription) still belongs to the session.
   */
  drainAcks(): void {
    this.acksDrainScheduled = false;
    for (let ack = this.readyAck(); ack !== undefined; ack = this.readyAck()) {
      this.acks.shift();
      ack.action(ack, ack.error);
    }
  }

  /** The oldest acknowledgement if everything it waits for has settled. */
  private readyAck(): PendingAck | undefined {
    const ack = this.acks.peek();
    return ack !== undefined && ack.waiting === 0 ? ack : undefined;
  }

  /** Stops reading this socket until the store has caught up with its commits (backpressure, not heap growth). */
  throttleUntilCommitted(flushed: Promise<void>): void {
    if (this.throttled || this.closed) return;
    this.throttled = true;
    this.stream.pause();
    const resume = () => {
      this.throttled = false;
      // The time the broker did not read is not the client's silence: its PINGREQs waited in the socket.
      this.lastPacketAt = Date.now();
      if (!this.closed) this.stream.resume();
    };
    flushed.then(resume, resume);
  }

  protocolError(err: ProtocolViolation): void {
    if (this.closed) return;
    this.broker.log.info('protocol error', { clientId: this.clientId || undefined, remote: this.remoteAddress, reason: `0x${err.reasonCode.toString(16)}`, detail: err.message });
    if (err.reasonCode === ReasonCode.UnsupportedProtocolVersion && !this.connectReceived) {
      // Unknown protocol level: CONNACK 0x01 in the 3.1.1 form, which any client can read, then close (3.1.1 [MQTT-3.1.2-2]).
      this.write({ cmd: 'connack', sessionPresent: false, returnCode: ConnackReturnCode311.UnacceptableProtocolVersion });
    }
    this.close(err.reasonCode, err.message);
  }

  /** Sends `packet` now, batched with the other writes of this tick into one socket write. */
  write(packet: Packet): void {
    if (this.closed) return;
    const buf = encodePacket(packet, this.protocolVersion);
    this.writeBuffer(buf);
  }

  /**
   * Sends a PUBACK/PUBREC/PUBREL/PUBCOMP without properties (`type`: codec.ts AckType; `reasonCode` is sent on
   * 5.0 only), as write() would, without a packet object or a Buffer of its own.
   */
  writeAck(type: number, packetId: number, reasonCode: number): void {
    if (this.closed) return;
    if (packetId < 1 || packetId > 0xffff) throw new RangeError(`packet identifier ${packetId} out of range`);
    const size = ackSize(this.protocolVersion, reasonCode);
    let buf = this.ackBuf;
    if (buf === null || this.ackEnd + size > buf.length) {
      this.takeAcks();
      buf = this.ackBuf = Buffer.allocUnsafe(ACK_BUFFER_BYTES);
      this.ackStart = this.ackEnd = 0;
    }
    writeAck(buf, this.ackEnd, type, packetId, reasonCode, this.protocolVersion);
    this.ackEnd += size;
    this.scheduleFlush();
  }

  /** The acknowledgements written since the last call join `outgoing`, keeping the order of writes. */
  private takeAcks(): void {
    if (this.ackEnd === this.ackStart) return;
    this.outgoing.push(this.ackBuf!.subarray(this.ackStart, this.ackEnd));
    this.outgoingBytes += this.ackEnd - this.ackStart;
    this.ackStart = this.ackEnd;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(flushConnection, this);
  }

  /**
   * Queues bytes for the socket; everything queued in one tick leaves together. Small packets are copied into one
   * buffer (one write, none of the stream's per-chunk bookkeeping, which costs more than the copy for PUBACKs and
   * small PUBLISHes); payloads above PAYLOAD_COPY_MAX are handed to the socket as they are, without a copy.
   */
  writeBuffer(buf: Buffer): void {
    this.takeAcks();
    this.scheduleFlush();
    this.outgoing.push(buf);
    this.outgoingBytes += buf.length;
  }

  flush(): void {
    this.flushScheduled = false;
    this.takeAcks();
    const list = this.outgoing;
    if (list.length === 0) return;
    const total = this.outgoingBytes;
    this.outgoing = [];
    this.outgoingBytes = 0;
    if (this.stream.destroyed || this.stream.writableEnded) return;
    if (list.length === 1) {
      this.stream.write(list[0]!);
      return;
    }
    this.stream.cork();
    let start = 0;
    let runBytes = 0;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.length <= PAYLOAD_COPY_MAX) {
        runBytes += b.length;
        continue;
      }
      if (i > start) this.stream.write(i - start === 1 ? list[start]! : Buffer.concat(list.slice(start, i), runBytes));
      this.stream.write(b);
      start = i + 1;
      runBytes = 0;
    }
    if (start < list.length) this.stream.write(start === 0 ? Buffer.concat(list, total) : list.length - start === 1 ? list[start]! : Buffer.concat(list.slice(start), runBytes));
    this.stream.uncork();
  }

  writable(): boolean {
    return !this.closed && this.stream.writableLength + this.outgoingBytes + (this.ackEnd - this.ackStart) < this.broker.config.mqtt.maxSocketBufferBytes;
  }

  sendPublish(out: Outgoing, dup: boolean): void {
    const msg = out.msg;
    let props: DeliveryProperties | null = null;
    let topic = msg.topic;
    if (this.protocolVersion === 5) {
      const expiry = remainingExpirySeconds(msg, Date.now());
      // Expired before its first send: behave as if delivered [MQTT-3.3.2-5]. A resend (DUP) is not dropped:
      // expiry no longer applies once the PUBLISH was sent [MQTT-4.3.3-7] [MQTT-4.4.0-1].
      if (expiry === 0 && !dup) {
        if (out.qos > 0) this.session?.complete(out.packetId);
        return;
      }
      let topicAlias = 0;
      // A resent PUBLISH carries its full topic: aliases do not survive the connection they were set on.
      if (this.clientTopicAliasMaximum > 0 && !dup) {
        topicAlias = this.outgoingAlias(topic);
        if (topicAlias < 0) {
          topicAlias = -topicAlias;
          topic = '';
        }
      }
      props = {
        messageExpiryInterval: expiry,
        topicAlias,
        subscriptionIds: out.subscriptionIds,
        messageProperties: (msg.encodedProperties ??= encodeMessageProperties(msg.properties)),
      };
    }
    const head = encodePublish({ topic, payload: msg.payload, qos: out.qos, retain: out.retain, dup, packetId: out.packetId }, props);
    const payloadSeparate = msg.payload.length > PAYLOAD_COPY_MAX;
    const size = head.length + (payloadSeparate ? msg.payload.length : 0);
    if (this.clientMaximumPacketSize > 0 && size > this.clientMaximumPacketSize) {
      // Too large for this client: discard and behave as if sent [MQTT-3.1.2-25].
      this.broker.stats.droppedTooLarge++;
      // An alias assigned for this packet never reached the client: forget it, or later packets would use it.
      if (props !== null && props.topicAlias > 0 && topic.length > 0) this.aliasesOut?.delete(topic);
      // A queue delivery is rejected instead, so another consumer (with a larger limit) can take it.
      if (out.qos > 0) this.session?.complete(out.packetId, out.owner !== undefined ? ReasonCode.PacketTooLarge : ReasonCode.Success);
      return;
    }
    const stats = this.broker.stats;
    stats.messagesOutByQos[out.qos]++;
    stats.bytesOutByQos[out.qos] += msg.payload.length;
    this.writeBuffer(head);
    if (payloadSeparate) this.writeBuffer(msg.payload);
  }

  /**
   * Topic alias for an outgoing topic (5.0 section 3.3.2.3.4): a new alias (positive, topic sent with it), a known
   * one (negative, topic left empty), or 0 when the client's Topic Alias Maximum is used up.
   */
  private outgoingAlias(topic: string): number {
    if (this.aliasesOut === null) this.aliasesOut = new Map();
    const known = this.aliasesOut.get(topic);
    if (known !== undefined) return -known;
    if (this.aliasesOut.size >= this.clientTopicAliasMaximum) return 0;
    const alias = this.aliasesOut.size + 1;
    this.aliasesOut.set(topic, alias);
    return alias;
  }

  sendPubrel(packetId: number): void {
    this.write({ cmd: 'pubrel', messageId: packetId });
  }

  /** Close with a reason code: on 5.0, after CONNACK, a DISCONNECT carries it first [MQTT-4.13.1-1]. */
  close(reasonCode?: number, reasonString?: string): void {
    if (this.closed) return;
    this.closeReason ??= reasonString ?? (reasonCode === undefined ? undefined : `0x${reasonCode.toString(16)}`);
    if (reasonCode !== undefined && this.protocolVersion === 5 && this.connectReceived) {
      const properties = reasonString && this.requestProblemInformation ? { reasonString: reasonString.slice(0, 200) } : undefined;
      this.write({ cmd: 'disconnect', reasonCode, properties });
    }
    this.flush();
    this.stream.end();
    // A socket paused for backpressure would not see the peer's close: it reads again, ignoring the bytes.
    if (this.throttled) this.stream.resume();
    // Do not wait for a peer that never reads: the socket is torn down shortly after the final write. The timer
    // goes when the socket closes: left running, it would keep this connection, its socket and parser alive for
    // a second, long enough to reach the old generation in a storm of short connections (issue 13).
    const stream = this.stream;
    if (!stream.destroyed) {
      const teardown = setTimeout(() => stream.destroy(), 1000).unref();
      stream.once('close', () => clearTimeout(teardown));
    }
    this.onClose();
  }

  /** Once closed, what still arrives is read (so that the peer's close is seen) and ignored. */
  received(chunk: Buffer): void {
    if (!this.closed) this.parser.parse(chunk);
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = null;
    // Packets held behind a commit (a SUBSCRIBE creating its queue) arrived before the close: they count first,
    // so that a DISCONNECT among them keeps the will back. (Held before CONNACK, they wait for the session.)
    if (this.held !== null && this.session !== null) this.handleHeldAfterClose();
    this.broker.connectionClosed(this);
  }

  /** Keep alive: close when nothing arrived for 1.5 times the interval [MQTT-3.1.2-22]. */
  setKeepAlive(seconds: number): void {
    this.keepAliveMs = seconds * 1500;
    this.scheduleKeepAlive(this.keepAliveMs);
  }

  private scheduleKeepAlive(ms: number): void {
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = null;
    if (ms <= 0 || this.closed) return;
    this.keepAliveTimer = setTimeout(checkKeepAliveOf, ms, this);
    this.keepAliveTimer.unref();
  }

  checkKeepAlive(): void {
    if (this.throttled) {
      // Not reading this socket (backpressure) is the broker's doing: the keep alive waits for it to read again.
      this.scheduleKeepAlive(this.keepAliveMs);
      return;
    }
    const idle = Date.now() - this.lastPacketAt;
    if (idle >= this.keepAliveMs) {
      if (!this.connectReceived) {
        this.stream.destroy();
        this.onClose();
        return;
      }
      this.broker.log.info('keep alive timeout', { clientId: this.clientId });
      this.close(ReasonCode.KeepAliveTimeout);
      return;
    }
    this.scheduleKeepAlive(this.keepAliveMs - idle);
  }
}

function drainAcksOf(conn: Connection): void {
  conn.drainAcks();
}

/** The action of acknowledge(): its `send` callback. */
function runSend(ack: PendingAck, err: unknown): void {
  (ack.detail as (err: unknown) => void)(err);
}

function flushConnection(conn: Connection): void {
  conn.flush();
}

const CONNECTION = Symbol('connection');
type ConnectionStream = Duplex & { [CONNECTION]: Connection };

function onStreamData(this: ConnectionStream, chunk: Buffer): void {
  this[CONNECTION].received(chunk);
}

function onStreamClosed(this: ConnectionStream): void {
  this[CONNECTION].onClose();
}

function onStreamEnd(this: Duplex): void {
  this.end();
}

function checkKeepAliveOf(conn: Connection): void {
  conn.checkKeepAlive();
}
