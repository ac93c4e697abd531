// The admin HTTP listener (node:http, no framework): bearer-token check, routing, JSON errors, and the bound
// address. It runs in the broker's process and event loop, so handlers stay short and never block.
//
// The port is a plain node:net listener; node:http and the HTTP server are made at its first connection, which is
// handed to them (http.Server takes injected sockets through its 'connection' event). An idle broker nobody has
// asked yet does not carry node:http's modules and parser (issue 13: 0.4 MB of idle RSS); the first request
// waits for them once, a few milliseconds.

import { nodeCrypto, nodeHttp } from '../lazy-builtins.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createListener, type AddressInfo, type Server as Listener, type Socket } from 'node:net';
import { isLoopbackHost, parseHostPort } from '../config/monitoring.js';
import { StoreError } from '../store/errors.js';
import { bindFailureReason, ListenError } from '../broker/listen-error.js';
import type { AdminContext } from './context.js';
import { ApiError, sendJson } from './http.js';
import { LogRateLimit } from '../log/rate-limit.js';
import type { AdminRoutes } from './routes/all.js';
import { isUiPath } from './ui-paths.js';

/** Paths served without the token: a liveness probe (systemd, a load balancer) has no secret to send. */
const OPEN_PATHS = new Set(['/healthz']);

const digest = (s: string) => nodeCrypto().createHash('sha256').update(s).digest();

/** A client guessing tokens must not flood the log (and the flash under journald): one line per address per window. */
const AUTH_LOG_WINDOW_MS = 10_000;

export class AdminServer {
  /** Loaded and built on the first request (routes/all.ts). */
  private routes: Promise<AdminRoutes> | undefined;
  private readonly tokenDigest: Buffer | null;
  /** The bound port; null before start() and after stop(). */
  private listener: Listener | null = null;
  /** Made at the first connection (httpServer()). */
  private http: Server | null = null;
  /** Per remote address: one line per window. */
  private readonly authFailures = new LogRateLimit(AUTH_LOG_WINDOW_MS);

  constructor(private readonly ctx: AdminContext) {
    const token = ctx.config.admin.token;
    this.tokenDigest = token === undefined ? null : digest(token);
  }

  /** Binds admin.listen (or `listen`); throws with the address and the reason when it cannot. */
  async start(listen = this.ctx.config.admin.listen): Promise<{ host: string; port: number }> {
    const hp = parseHostPort(listen);
    if (hp === undefined) throw new Error(`admin.listen: not HOST:PORT: ${listen}`);
    // Checked here as well as when the configuration loads: whoever builds the configuration, the API is never
    // reachable from the network without a token.
    if (this.tokenDigest === null && !isLoopbackHost(hp.host)) {
      throw new Error(`admin.listen (${listen}): not a loopback address, so admin.token is required`);
    }
    // The socket options http.Server gives the sockets it accepts itself: HTTP handles a half-closed socket, and
    // answers go out without Nagle's delay.
    const listener = createListener({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => this.httpServer().emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (err) => reject(new ListenError('admin.listen', 'admin', hp.host, hp.port, bindFailureReason(err), { cause: err })));
      listener.listen(hp.port, hp.host, () => resolve());
    });
    listener.on('error', (err) => this.ctx.log.error('admin listener error', { error: err.message }));
    this.listener = listener;
    const addr = listener.address() as AddressInfo;
    this.ctx.log.info('admin listening', { host: addr.address, port: addr.port, token: this.tokenDigest !== null });
    return { host: addr.address, port: addr.port };
  }

  /** True once the first connection has loaded node:http (tests). */
  httpLoaded(): boolean {
    return this.http !== null;
  }

  port(): number {
    return (this.listener?.address() as AddressInfo | null)?.port ?? 0;
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    if (listener === null) return;
    this.listener = null;
    (await this.routes)?.events.stop();
    // Resolves once every connection the listener accepted has closed.
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    // Streaming purges and keep-alive connections would otherwise hold close() open. close() on the HTTP server,
    // which listens on nothing itself, only stops its timeout checks.
    this.http?.closeAllConnections();
    this.http?.close();
    await closed;
  }

  /** The HTTP server, made at the first connection. */
  private httpServer(): Server {
    if (this.http !== null) return this.http;
    const http = nodeHttp().createServer((req, res) => this.handle(req, res));
    // A slow or stuck client must not hold a request open forever.
    http.requestTimeout = 30_000;
    http.headersTimeout = 10_000;
    // http.Server tracks its connections and checks these timeouts from its own 'listening' handler; it never
    // listens itself (the listener above has the port), so it is told here that its sockets now come.
    http.emit('listening');
    this.http = http;
    return http;
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === null) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Compared as digests: equal length, constant time, no hint of the token's length.
    return m !== null && nodeCrypto().timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  private logAuthFailure(req: IncomingMessage, remote: string, method: string, path: string): void {
    const suppressed = this.authFailures.take(req.socket.remoteAddress ?? '');
    if (suppressed === undefined) return;
    const reason = req.headers.authorization ? 'wrong token' : 'no token';
    this.ctx.log.info('admin auth failed', { remote, method, path, reason, suppressedBefore: suppressed || undefined });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const run = async () => {
      if (!OPEN_PATHS.has(url.pathname) && !isUiPath(url.pathname) && !this.authorized(req)) {
        this.logAuthFailure(req, remote, method, url.pathname);
        throw new ApiError(401, 'missing or wrong bearer token (Authorization: Bearer <admin.token>)', { 'www-authenticate': 'Bearer realm="wharf"' });
      }
      const { router } = await (this.routes ??= import('./routes/all.js').then((m) => m.buildAdminRoutes(this.ctx)));
      const { route, params } = router.match(method, url.pathname);
      this.ctx.log.debug('admin request', { remote, method, path: url.pathname });
      await route.handle({ req, res, url, params });
    };
    run().catch((err: unknown) => {
      if (res.headersSent) {
        // A streaming answer already started: all that is left is to cut it, which the client sees.
        this.ctx.log.error('admin request failed mid-answer', { method, path: url.pathname, error: (err as Error)?.message ?? String(err) });
        res.destroy();
        return;
      }
      if (err instanceof ApiError) {
        sendJson(res, err.status, { error: err.message, ...err.details }, err.headers);
        return;
      }
      if (err instanceof StoreError) {
        // Full disk, closed store: the request was fine, the broker cannot carry it out now.
        sendJson(res, 503, { error: err.message });
        return;
      }
      this.ctx.log.error('admin request failed', { method, path: url.pathname, error: (err as Error)?.stack ?? String(err) });
      sendJson(res, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
    });
  }
}
