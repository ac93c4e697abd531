// Reconnection delays: "decorrelated jitter" (as Mosquitto's bridge backoff), each delay random between the base
// and three times the previous one, capped; it spreads a fleet of gateways reconnecting after a cloud outage.

export class Backoff {
  private previous: number;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.previous = baseMs;
  }

  next(): number {
    const high = Math.max(this.baseMs, this.previous * 3);
    const delay = Math.min(this.capMs, this.baseMs + this.random() * (high - this.baseMs));
    this.previous = delay;
    return Math.round(delay);
  }

  /** A connection that reached CONNACK starts the next outage from the base again. */
  reset(): void {
    this.previous = this.baseMs;
  }
}
