// Exit codes of the `wharf` commands: `wharf start` (StartExitCode) and the commands that talk to the admin API
// (status, queues, clients, sessions, retained: ExitCode). The README's "Exit codes" table lists both.

/**
 * `wharf start`. 2 and 3 are not fixed by restarting the same configuration on the same machine: a service
 * manager can stop retrying on them (systemd RestartPreventExitStatus=2 3); 4 may clear once the port is free.
 */
export const StartExitCode = {
  /** Stopped by SIGTERM/SIGINT after a clean shutdown. */
  Stopped: 0,
  /** Anything unexpected, another Wharf on the same data directory, no room to open the store, a failed shutdown. */
  Failure: 1,
  /** The configuration (file, environment, options) or the command line is invalid. */
  Config: 2,
  /** The data directory cannot be used: cannot be created or written, damaged, not Wharf's. */
  DataDir: 3,
  /** A listener (MQTT tcp/tls/ws/wss or the admin API) could not be started: port in use, no permission, bad cert files. */
  Listener: 4,
} as const;

export const ExitCode = {
  Ok: 0,
  /** Anything unexpected: an internal error of the broker (HTTP 5xx), a malformed answer. */
  Failure: 1,
  /** The command line is wrong (unknown command or option, missing argument). */
  Usage: 2,
  /** The queue, client, session or retained topic named does not exist (HTTP 404). */
  NotFound: 3,
  /** The broker refused the request: invalid input, a conflict (HTTP 400, 405, 409, 413, 415). */
  Refused: 4,
  /** The admin API could not be reached (connection refused, timeout, not Wharf on that port). */
  Unreachable: 5,
  /** The admin API wants a token, or a different one (HTTP 401). */
  Unauthorized: 6,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A command's failure: the message for stderr and the exit code saying what kind of failure it was. */
export class CommandFailure extends Error {
  constructor(
    readonly exitCode: ExitCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

export const EXIT_CODES_TEXT = `Exit codes of "wharf start":
  0  stopped cleanly (SIGTERM, SIGINT)
  1  unexpected failure; another Wharf uses the data directory; no room on
     its file system to open the store (clears once space is freed)
  2  invalid configuration or command line
  3  unusable data directory (cannot be created or written, damaged, not Wharf's)
  4  a listener could not be started (port in use, permission denied,
     unusable certificate files)

Exit codes (status, queues, clients, sessions, retained, config):
  0  success
  1  unexpected failure (internal error of the broker, malformed answer)
  2  usage error (unknown command or option, missing argument)
  3  not found (no such queue, client, session or retained topic)
  4  refused by the broker (invalid input naming the field, conflict)
  5  admin API unreachable (nothing listening, timeout)
  6  authentication failed (token missing or wrong)
`;
