// The arguments of `wharf passwd FILE USER`, apart from the command itself (passwd.ts), so that parsing a command
// line does not load the password hashing and the terminal prompt (issue 13: node:readline for every `wharf start`).

export interface PasswdArgs {
  command: 'passwd';
  file: string;
  user: string;
}

/** Parses `passwd FILE USER`; a string is the usage problem. */
export function parsePasswdArgs(rest: string[]): PasswdArgs | string {
  if (rest.length !== 2) return 'passwd needs FILE and USER (wharf passwd FILE USER; the password is asked for or read from stdin)';
  const [file, user] = rest as [string, string];
  if (user.length === 0 || user.includes(':') || /[\n\r]/.test(user)) return 'passwd: USER must be non-empty and hold no ":" or line break';
  return { command: 'passwd', file, user };
}
