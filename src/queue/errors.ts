// Why a queue refused a message, as a reason code for the publisher's acknowledgement.

import { ReasonCode } from '../protocol/reason-codes.js';
import { StoreFullError } from '../store/errors.js';

/**
 * A message a queue will never take as it is (a last-value message without a key): resending cannot help, so a
 * 3.1.1 publisher, which cannot be told, gets its PUBACK and the message is dropped and counted.
 */
export class MessageRefusedError extends Error {
  readonly permanent = true;
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function missingKeyError(queue: string, keySpec: string | undefined): MessageRefusedError {
  return new MessageRefusedError(ReasonCode.PayloadFormatInvalid, `queue ${queue}: message has no key (${keySpec ?? 'no key source'})`);
}

/**
 * A queue at its maxMessages or maxBytes limit (overflow: reject): a StoreFullError for the publisher (0x97
 * Quota exceeded, as a full store), but named for what it is in messages and logs: the store itself is fine.
 */
export class QueueFullError extends StoreFullError {
  constructor(
    readonly queue: string,
    readonly limit: string,
  ) {
    super(`queue ${queue} is at its ${limit} limit`);
    this.message = `queue ${queue} is full (${limit} reached, overflow: reject)`;
  }
}
