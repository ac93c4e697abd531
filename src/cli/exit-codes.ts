// Exit codes of the `wharf` commands that talk to the admin API (status, queues, clients, sessions, retained).
// `wharf start` has its own (see start.ts): 0 stopped cleanly, 1 failure, 2 configuration, 3 unusable data dir.

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

export const EXIT_CODES_TEXT = `Exit codes (status, queues, clients, sessions, retained):
  0  success
  1  unexpected failure (internal error of the broker, malformed answer)
  2  usage error (unknown command or option, missing argument)
  3  not found (no such queue, client, session or retained topic)
  4  refused by the broker (invalid input naming the field, conflict)
  5  admin API unreachable (nothing listening, timeout)
  6  authentication failed (token missing or wrong)
`;
