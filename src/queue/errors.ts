// Why a queue refused a message, as a reason code for the publisher's acknowledgement.

import { ReasonCode } from '../protocol/reason-codes.js';

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
