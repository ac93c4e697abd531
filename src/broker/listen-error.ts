// A listener (MQTT tcp/tls/ws/wss or the admin HTTP API) that could not be started: which one, where, and why in
// words a site engineer can act on (a busy port, no permission, an unusable certificate file), so `wharf start`
// can say it in one line and exit with its own code.

export class ListenError extends Error {
  constructor(
    /** The configuration key of the listener: "listeners[1]", "admin.listen". */
    readonly listener: string,
    /** tcp, tls, ws, wss or admin */
    readonly type: string,
    readonly host: string,
    readonly port: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot start ${listener} (${type} on ${host}:${port}): ${reason}`, options);
    this.name = 'ListenError';
  }
}

/** The reason a bind failed, from the errno code Node reports. */
export function bindFailureReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return 'the port is already in use (another broker, e.g. Mosquitto or EMQX, or a second Wharf?)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'no such local address';
    default:
      return (err as Error)?.message ?? String(err);
  }
}
