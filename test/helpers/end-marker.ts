// "Nothing else arrived", proven by an end marker instead of a quiet period: the broker sends the marker after
// anything unwanted would have been sent, so whatever came before it is everything, however slow the machine is.
// The marker is a PUBLISH sent after everything the broker owes a client (its queued session messages, the
// retained messages after a SUBACK, a message routed after the thing under test), which the broker delivers to
// that client in order; or a PINGRESP on the same connection (the broker answers packets in order, and writes
// what it sends to a connection in order).

import type { IPublishPacket, Packet } from 'mqtt-packet';
import { RawClient } from './raw-client.js';

export const END_MARKER = 'end-marker';

/** Publishes the marker (QoS 0, payload END_MARKER) on `topic` from a client of its own, once it is handled. */
export async function publishEndMarker(port: number, topic: string): Promise<void> {
  const { client } = await RawClient.connected(port, { clientId: '' }, 5);
  try {
    // QoS 1 so that the PUBACK says it was routed; the subscriber's copy is at its subscription's QoS (or less).
    client.send({ cmd: 'publish', topic, payload: Buffer.from(END_MARKER), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    await client.next('puback');
  } finally {
    client.end();
  }
}

const isMarker = (p: Packet, topic: string) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic && (p as IPublishPacket).payload.toString() === END_MARKER;

/**
 * Publishes an end marker on `topic` (which `client` must be subscribed to) and returns every packet `client`
 * received before it. Fails if the marker does not come within `timeoutMs`. Answers nothing: the caller
 * acknowledges what it needs to (a marker at QoS 1 is acknowledged here).
 */
export async function packetsBeforeMarker(client: RawClient, port: number, topic: string, timeoutMs = 10_000): Promise<Packet[]> {
  await publishEndMarker(port, topic);
  const got: Packet[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await client.next(undefined, Math.max(1, deadline - Date.now()));
    if (!isMarker(p, topic)) {
      got.push(p);
      continue;
    }
    const id = (p as IPublishPacket).messageId;
    if ((p as IPublishPacket).qos === 1 && id !== undefined) client.send({ cmd: 'puback', messageId: id } as Packet);
    return got;
  }
}

/** Topic of the marker PUBLISH for `beforeMarker` (clients subscribe to it). */
export const MARKER_TOPIC = 'marker/end';

/** A packet in short form for exact comparisons: `publish <topic> <payload>`, or its command. */
export function brief(p: Packet): string {
  return p.cmd === 'publish' ? `publish ${p.topic} ${(p as IPublishPacket).payload.toString()}` : p.cmd;
}

/** Every packet `c` receives before the first one `isMarker` accepts, which is consumed too. */
export async function packetsBefore(c: RawClient, isMarker: (p: Packet) => boolean, timeoutMs = 3000): Promise<Packet[]> {
  const got: Packet[] = [];
  for (;;) {
    const p = await c.next(undefined, timeoutMs);
    if (isMarker(p)) return got;
    got.push(p);
  }
}

/**
 * A PINGREQ round trip on `c`: what the broker sent `c` before its PINGRESP, in short form. Everything the broker
 * sends because of what it has handled so far (a routed message, a resend, a retained message) comes first.
 */
export async function beforePing(c: RawClient): Promise<string[]> {
  c.send({ cmd: 'pingreq' });
  return (await packetsBefore(c, (p) => p.cmd === 'pingresp')).map(brief);
}

/** What `c` received before the next PUBLISH on `topic`, in short form (`c` must be subscribed to it). */
export async function beforeMarker(c: RawClient, topic = MARKER_TOPIC): Promise<string[]> {
  return (await packetsBefore(c, (p) => p.cmd === 'publish' && p.topic === topic)).map(brief);
}
