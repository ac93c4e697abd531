// Repeated failed logins from one source address are answered later and later (issue 17): a password guesser
// on the plant network gets a few tries per minute instead of thousands per second, while a device with a
// mistyped password still hears its refusal.

/** Failures before answers are delayed, the first delay, and the cap. */
const FREE_FAILURES = 3;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 10_000;
/** A source that fails no more for this long starts afresh. */
const FORGET_AFTER_MS = 10 * 60_000;
/** Bounds the memory a scan of many addresses can take. */
const MAX_ADDRESSES = 10_000;

export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; lastAt: number }>();

  /** How long to hold the answer to a failed login from `address` (the failure is counted). */
  failed(address: string, now = Date.now()): number {
    let entry = this.failures.get(address);
    if (entry === undefined || now - entry.lastAt > FORGET_AFTER_MS) {
      if (this.failures.size >= MAX_ADDRESSES) this.failures.clear();
      entry = { count: 0, lastAt: now };
      this.failures.set(address, entry);
    }
    entry.count++;
    entry.lastAt = now;
    if (entry.count <= FREE_FAILURES) return 0;
    return Math.min(FIRST_DELAY_MS * 2 ** (entry.count - FREE_FAILURES - 1), MAX_DELAY_MS);
  }

  succeeded(address: string): void {
    this.failures.delete(address);
  }
}

/** The host part of "host:port" (IPv6 hosts hold colons: the port is after the last one). */
export function hostOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  return colon < 0 ? remoteAddress : remoteAddress.slice(0, colon);
}
