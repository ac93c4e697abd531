// Who may connect and what they may do: the password file, the ACL file, anonymous access and certificate
// identities, loaded at start and again on SIGHUP (connections stay; their rules are swapped in place).

import type { WharfConfig } from '../config/types.js';
import { anonymousAllowed } from '../config/auth.js';
import type { Logger } from '../log/logger.js';
import { LogRateLimit } from '../log/rate-limit.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { AclFile } from './acl.js';
import { hostOf, LoginThrottle } from './login-throttle.js';
import { PasswordFile } from './password-file.js';
import { SessionAcl } from './session-acl.js';

/** What a client presents: the CONNECT fields and, on a listener with useIdentityAsUsername, its certificate's CN. */
export interface Credentials {
  username: string | undefined;
  password: Buffer | undefined;
  /** Set when the listener takes the user name from the client certificate. */
  certificateIdentity: string | undefined;
  useIdentity: boolean;
  clientId: string;
  remoteAddress: string;
}

export type AuthResult = { ok: true; username: string | undefined } | { ok: false; reasonCode: number; why: string; delayMs: number };

export interface AuthCounters {
  loginsFailed: number;
  publishDenied: number;
  subscribeDenied: number;
  reloads: number;
}

export class Authenticator {
  private passwords: PasswordFile | null = null;
  private acl: AclFile | null = null;
  readonly counters: AuthCounters = { loginsFailed: 0, publishDenied: 0, subscribeDenied: 0, reloads: 0 };
  private readonly denialLog = new LogRateLimit(60_000);
  private readonly throttle = new LoginThrottle();
  private readonly failureLog = new LogRateLimit(60_000);

  constructor(
    private readonly config: WharfConfig,
    private readonly log: Logger,
  ) {}

  get allowAnonymous(): boolean {
    return anonymousAllowed(this.config);
  }

  /** True when an ACL file is configured: every session then carries its SessionAcl. */
  get hasAcl(): boolean {
    return this.acl !== null;
  }

  /** The ACL file in force (replaced on each reload); null without auth.aclFile. */
  get aclFile(): AclFile | null {
    return this.acl;
  }

  get aclRuleCount(): number {
    return this.acl?.ruleCount ?? 0;
  }

  /** Reads the configured files; throws (with the path) when one cannot be read, which stops `wharf start`. */
  load(): void {
    const { passwordFile, aclFile } = this.config.auth;
    this.passwords = passwordFile === undefined ? null : this.readPasswords(passwordFile);
    this.acl = aclFile === undefined ? null : this.readAcl(aclFile);
  }

  /**
   * SIGHUP: reads both files again. A file that cannot be read keeps the rules in force (logged), so a
   * half-edited deployment does not open the broker. Returns the new ACL file for the sessions to take.
   */
  reload(): AclFile | null {
    this.counters.reloads++;
    const { passwordFile, aclFile } = this.config.auth;
    try {
      if (passwordFile !== undefined) this.passwords = this.readPasswords(passwordFile);
    } catch (err) {
      this.log.error('password file not reloaded, the previous one stays in force', { file: passwordFile, error: (err as Error).message });
    }
    try {
      if (aclFile !== undefined) this.acl = this.readAcl(aclFile);
    } catch (err) {
      this.log.error('ACL file not reloaded, the previous one stays in force', { file: aclFile, error: (err as Error).message });
    }
    this.log.info('auth reloaded', { users: this.passwords?.size, aclRules: this.acl?.ruleCount });
    return this.acl;
  }

  private readPasswords(path: string): PasswordFile {
    const pf = PasswordFile.load(path);
    for (const p of pf.problems) this.log.warn('password file line skipped', { file: path, line: p.line, problem: p.message });
    return pf;
  }

  private readAcl(path: string): AclFile {
    const acl = AclFile.load(path);
    for (const p of acl.problems) this.log.warn('ACL file line skipped', { file: path, line: p.line, problem: p.message });
    return acl;
  }

  /** The CONNECT decision [MQTT-3.1.4-2]: 0x86 for wrong credentials, 0x87 for a client that may not connect. */
  async authenticate(c: Credentials): Promise<AuthResult> {
    const result = await this.decide(c);
    const host = hostOf(c.remoteAddress);
    if (result.ok) {
      this.throttle.succeeded(host);
      return result;
    }
    this.counters.loginsFailed++;
    const suppressed = this.failureLog.take(host);
    if (suppressed !== undefined) {
      this.log.warn('login failed', { remote: c.remoteAddress, clientId: c.clientId, username: c.username, reason: `0x${result.reasonCode.toString(16)}`, detail: result.why, suppressedSinceLast: suppressed });
    }
    return { ...result, delayMs: this.throttle.failed(host) };
  }

  private async decide(c: Credentials): Promise<AuthResult> {
    const fail = (reasonCode: number, why: string): AuthResult => ({ ok: false, reasonCode, why, delayMs: 0 });
    if (c.useIdentity) {
      // Mosquitto's use_identity_as_username: the certificate is the credential; the CONNECT password is not checked.
      if (c.certificateIdentity === undefined) return fail(ReasonCode.NotAuthorized, 'the client certificate has no Common Name');
      return { ok: true, username: c.certificateIdentity };
    }
    if (c.username === undefined) {
      return this.allowAnonymous ? { ok: true, username: undefined } : fail(ReasonCode.NotAuthorized, 'anonymous clients are not allowed (auth.allowAnonymous)');
    }
    const passwords = this.passwords;
    // Without a password file a user name is taken as given, as Mosquitto does (it only selects ACL rules).
    if (passwords === null) {
      return this.allowAnonymous ? { ok: true, username: c.username } : fail(ReasonCode.NotAuthorized, 'no password file to check the user name against');
    }
    return (await passwords.verify(c.username, c.password)) ? { ok: true, username: c.username } : fail(ReasonCode.BadUserNameOrPassword, 'bad user name or password');
  }

  /** A PUBLISH the ACL refused: counted, and logged once a minute per client. */
  publishDenied(clientId: string, topic: string): void {
    this.counters.publishDenied++;
    const suppressed = this.denialLog.take(`p:${clientId}`);
    if (suppressed !== undefined) this.log.info('publish not authorized', { clientId, topic, suppressedSinceLast: suppressed });
  }

  /** A SUBSCRIBE filter the ACL refused: counted, and logged once a minute per client. */
  subscribeDenied(clientId: string, filter: string): void {
    this.counters.subscribeDenied++;
    const suppressed = this.denialLog.take(`s:${clientId}`);
    if (suppressed !== undefined) this.log.info('subscribe not authorized', { clientId, filter, suppressedSinceLast: suppressed });
  }

  /** The per-session rules of a client that passed authenticate(); null when no ACL file is configured. */
  sessionAcl(username: string | undefined, clientId: string): SessionAcl | null {
    return this.acl === null ? null : new SessionAcl(this.acl, username, clientId);
  }
}
