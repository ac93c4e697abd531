// Retained messages, one per topic (MQTT 5.0 section 3.3.1.3): loaded whole at start, replaced and deleted one
// by one. A replaced message's payload is freed once the replacement is durable.

import { textKey } from './keys.js';
import { decodeMessage, encodeMessage, type HoldsMessage, type StoreContext } from './message-records.js';
import { PutOp, RemoveOp } from './ops.js';
import type { StoredMessage } from './types.js';

export class RetainedTable {
  constructor(private readonly ctx: StoreContext) {}

  /** Stores (or replaces) the retained message of its topic. */
  set(message: StoredMessage): Promise<void> {
    let op: PutOp;
    try {
      const encoded = encodeMessage(message, this.ctx);
      const record: HoldsMessage = [encoded.record];
      const key = textKey(message.topic);
      op = new PutOp(this.ctx.dbs.retained, key, record, encoded.bytes, message.payload.length, encoded.ref, true);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ctx.scheduler.enqueue(op);
  }

  /** Removes the retained message of a topic (a retained PUBLISH with an empty payload). */
  delete(topic: string): Promise<void> {
    return this.ctx.scheduler.enqueue(new RemoveOp(this.ctx.dbs.retained, textKey(topic), true));
  }

  async load(): Promise<StoredMessage[]> {
    const records: HoldsMessage[] = [];
    for (const { value } of this.ctx.dbs.retained.getRange({})) records.push(value as HoldsMessage);
    const messages: StoredMessage[] = [];
    for (const record of records) messages.push(await decodeMessage(record[0], this.ctx.payloads));
    return messages;
  }
}
