// Network listeners: MQTT over TCP, TLS, WebSocket and secure WebSocket (subprotocol "mqtt"), each handing
// a byte stream and the peer's address to the broker.

// tls, https and ws are loaded by the first listener that needs them, and a plain WebSocket listener loads http and
// ws only at its first connection: a broker nobody has reached over WebSocket does not carry their code (several
// MiB of RSS on a small board, issue 13).

import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/types.js';
import { nodeHttp } from '../lazy-builtins.js';

/** ws is CommonJS: required where it is first needed, so that the callers stay synchronous. */
const require = createRequire(import.meta.url);

/** Who is at the other end, as far as the transport knows: its listener and a verified client certificate's CN. */
export interface PeerInfo {
  listener: ListenerConfig;
  certificateIdentity: string | undefined;
}

export type StreamHandler = (stream: Duplex, remoteAddress: string, peer: PeerInfo) => void;

export interface Listener {
  readonly config: ListenerConfig;
  /** The port actually bound (differs from the configured one when that was 0). */
  port(): number;
  /** Stops accepting; existing connections are closed by the broker. */
  close(): Promise<void>;
}

/**
 * Binds one listener. A bind failure rejects (the caller names the listener); an error the server reports later
 * goes to `onError` instead of being thrown through the event loop.
 */
export async function startListener(config: ListenerConfig, onStream: StreamHandler, onError: (err: Error) => void): Promise<Listener> {
  const server = await createServerFor(config, onStream);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      server.on('error', onError);
      resolve();
    });
  });
  return {
    config,
    port: () => (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

/**
 * Node ignores whatever in a CA bundle is not a PEM certificate: a DER file or the key by mistake would leave the
 * served chain incomplete without a word, and clients would fail to verify Wharf. Refused here instead.
 */
function readCaBundle(path: string): Buffer {
  const bundle = readFileSync(path);
  if (!bundle.includes(PEM_CERTIFICATE)) throw new Error(`ca: ${path} holds no PEM certificate (no "${PEM_CERTIFICATE}" line)`);
  return bundle;
}

async function createServerFor(config: ListenerConfig, onStream: StreamHandler): Promise<net.Server> {
  const tlsOptions = () => ({
    cert: readFileSync(config.cert!),
    key: readFileSync(config.key!),
    ca: config.ca ? readCaBundle(config.ca) : undefined,
    // Mutual TLS: the handshake itself refuses a client without a certificate signed by `ca`.
    ...(config.requireCertificate === true ? { requestCert: true, rejectUnauthorized: true } : {}),
  });
  const peerOf = (socket: net.Socket): PeerInfo => ({ listener: config, certificateIdentity: certificateIdentity(socket) });
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true);
    onStream(socket, `${socket.remoteAddress}:${socket.remotePort}`, peerOf(socket));
  };
  switch (config.type) {
    case 'tcp':
      return net.createServer(onSocket);
    case 'tls':
      return (await import('node:tls')).createServer(tlsOptions(), onSocket);
    case 'ws':
      return new LazyWebSocketListener((http, upgraded) => attachMqttWebSocket(http, config, onStream, peerOf, upgraded));
    case 'wss': {
      const https = (await import('node:https')).createServer(tlsOptions());
      attachMqttWebSocket(https, config, onStream, peerOf);
      return https;
    }
  }
}

/**
 * A plain WebSocket port: a node:net listener whose first connection loads node:http and ws and makes the HTTP
 * server that upgrades to MQTT; it is handed that socket and every later one (http.Server takes injected sockets
 * through its 'connection' event). The embedded default listens for WebSocket on 8083; until a client comes there,
 * the broker does not carry the two modules (issue 13: about 2 MB of idle RSS).
 */
class LazyWebSocketListener extends net.Server {
  private http: HttpServer | null = null;
  /** Accepted sockets that are not MQTT connections (yet): the broker closes those, close() these. */
  private readonly plainHttp = new Set<net.Socket>();

  constructor(private readonly attach: (http: HttpServer, upgraded: (socket: net.Socket) => void) => void) {
    // The socket options http.Server gives the sockets it accepts itself.
    super({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    // A kept-alive connection after its 426 or a request still in its headers would hold this close open (the HTTP
    // server's own close() ends idle sockets only, and a half-sent request is not always one); MQTT connections are
    // the broker's to close, with their DISCONNECT. The HTTP server's close() stops its timeout checks.
    for (const socket of this.plainHttp) socket.destroy();
    this.http?.close();
    return this;
  }

  private accept(socket: net.Socket): void {
    this.plainHttp.add(socket);
    socket.once('close', () => this.plainHttp.delete(socket));
    this.httpServer().emit('connection', socket);
  }

  private httpServer(): HttpServer {
    if (this.http !== null) return this.http;
    const http = nodeHttp().createServer();
    this.attach(http, (socket) => this.plainHttp.delete(socket));
    // http.Server starts its connection tracking (and the request and header timeouts with it) from its own
    // 'listening' handler; it never listens itself, so it is told here that sockets now come.
    http.emit('listening');
    this.http = http;
    return http;
  }
}

/** MQTT over WebSocket on an HTTP(S) server: the "mqtt" subprotocol, binary frames only, a 426 for plain requests. */
function attachMqttWebSocket(
  http: HttpServer,
  config: ListenerConfig,
  onStream: StreamHandler,
  peerOf: (socket: net.Socket) => PeerInfo,
  upgraded: (socket: net.Socket) => void = () => undefined,
): void {
  const { WebSocketServer, createWebSocketStream } = require('ws') as typeof import('ws');
  http.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade required\n');
  });
  const wss = new WebSocketServer({
    server: http,
    path: config.path,
    perMessageDeflate: false,
    // MQTT over WebSocket uses the "mqtt" subprotocol [MQTT-6.0.0-3] [MQTT-6.0.0-4] ("mqttv3.1" for MQTT 3.1
    // clients); clients offering none are accepted, one offering only others gets none (its handshake fails).
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  // ws re-emits every error of the HTTP server (EADDRINUSE at bind included) on itself; without a listener
  // that is an uncaught exception. The server's own 'error' handlers (startListener) deal with them.
  wss.on('error', () => undefined);
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    // MQTT travels in binary frames only: any other data frame closes the connection unprocessed [MQTT-6.0.0-1].
    ws.prependListener('message', (_data, isBinary) => {
      if (!isBinary) stream.destroy();
    });
    const sock = req.socket;
    upgraded(sock);
    sock.setNoDelay(true);
    onStream(stream, `${sock.remoteAddress}:${sock.remotePort}`, peerOf(sock));
  });
}

/** The Common Name of a verified client certificate (the identity useIdentityAsUsername takes), if any. */
function certificateIdentity(socket: net.Socket): string | undefined {
  // A TLSSocket says `encrypted`; tested that way so that tcp and ws listeners need not load node:tls.
  const tlsSocket = socket as net.Socket & Partial<Pick<TLSSocket, 'encrypted' | 'authorized' | 'getPeerCertificate'>>;
  if (tlsSocket.encrypted !== true || tlsSocket.authorized !== true || tlsSocket.getPeerCertificate === undefined) return undefined;
  const cn: unknown = tlsSocket.getPeerCertificate().subject?.CN;
  if (typeof cn === 'string' && cn.length > 0) return cn;
  return Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : undefined;
}
