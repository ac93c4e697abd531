// Network listeners: MQTT over TCP, TLS, WebSocket and secure WebSocket (subprotocol "mqtt"), each handing
// a byte stream and the peer's address to the broker.

// tls, http(s) and ws are loaded by the first listener that needs them: a broker with TCP listeners only does not
// carry their code (several MiB of RSS on a small board, issue 13).

import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/types.js';

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
    case 'wss': {
      const http = config.type === 'ws' ? (await import('node:http')).createServer() : (await import('node:https')).createServer(tlsOptions());
      const { WebSocketServer, createWebSocketStream } = await import('ws');
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
      // that is an uncaught exception. The HTTP server's own 'error' handlers (startListener) deal with them.
      wss.on('error', () => undefined);
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        // MQTT travels in binary frames only: any other data frame closes the connection unprocessed [MQTT-6.0.0-1].
        ws.prependListener('message', (_data, isBinary) => {
          if (!isBinary) stream.destroy();
        });
        const sock = req.socket;
        sock.setNoDelay(true);
        onStream(stream, `${sock.remoteAddress}:${sock.remotePort}`, peerOf(sock));
      });
      return http;
    }
  }
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
