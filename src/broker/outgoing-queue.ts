// The messages waiting for a session, oldest first.

import { Fifo } from './fifo.js';
import type { Outgoing } from './session.js';

export class OutgoingQueue extends Fifo<Outgoing> {}
