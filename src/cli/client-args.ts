// Command-line parsing of the commands that talk to a running Wharf through its admin API.

export type Resource = 'status' | 'queues' | 'clients' | 'sessions' | 'retained' | 'devices' | 'bridges';

export interface ClientArgs {
  command: 'client';
  resource: Resource;
  /** list, show, create, update, delete, purge, peek, disconnect (status: show). */
  action: string;
  target?: string;
  /** key=value settings (queues create/update), values typed as in YAML: numbers, true/false, null, text. */
  settings: Record<string, unknown>;
  json: boolean;
  admin?: string;
  token?: string;
  limit?: number;
  filter?: string;
}

/** Actions per resource, the first being the default; `true` marks those that need a target name. */
const ACTIONS: Record<Resource, Record<string, boolean>> = {
  status: { show: false },
  queues: { list: false, show: true, create: true, update: true, delete: true, purge: true, peek: true },
  clients: { list: false, show: true, disconnect: true },
  sessions: { list: false, show: true, delete: true },
  retained: { list: false, delete: true },
  devices: { list: false, show: true },
  bridges: { list: false, show: true },
};

export const RESOURCES = Object.keys(ACTIONS) as Resource[];

export function isResource(word: string): word is Resource {
  return (RESOURCES as string[]).includes(word);
}

/** "3" → 3, "true" → true, "null" → null, anything else stays text ("7d", "1MiB", "orders/#"). */
function typedValue(text: string): unknown {
  if (/^(0|[1-9]\d*)$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  // A YAML flow list, as a composite last-value key is written (key=[topicLevel:1,userProperty:command_type]).
  if (text.startsWith('[') && text.endsWith(']')) return text.slice(1, -1).split(',').map((part) => typedValue(part.trim()));
  return text;
}

type Result = ClientArgs | { command: 'error'; message: string };

export function parseClientArgs(resource: Resource, argv: string[]): Result {
  const out: ClientArgs = { command: 'client', resource, action: Object.keys(ACTIONS[resource])[0]!, settings: {}, json: false };
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (what: string): string | undefined => {
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      return v === undefined || v === '' ? undefined : v;
    };
    switch (name) {
      case '--json':
        out.json = true;
        continue;
      case '--admin':
      case '--token':
      case '--filter': {
        const v = value(name);
        if (v === undefined) return { command: 'error', message: `option ${name} needs a value` };
        out[name.slice(2) as 'admin' | 'token' | 'filter'] = v;
        continue;
      }
      case '-n':
      case '--limit': {
        const v = value(name);
        if (v === undefined || !/^[1-9]\d*$/.test(v)) return { command: 'error', message: `option ${name} needs a positive integer` };
        out.limit = Number(v);
        continue;
      }
    }
    if (arg.startsWith('-') && arg !== '-') return { command: 'error', message: `unknown option "${name}"` };
    words.push(arg);
  }
  const actions = ACTIONS[resource];
  if (words.length > 0 && Object.prototype.hasOwnProperty.call(actions, words[0]!)) out.action = words.shift()!;
  else if (words.length > 0 && resource !== 'status') {
    return { command: 'error', message: `unknown action "${words[0]}" for ${resource} (actions: ${Object.keys(actions).join(', ')})` };
  }
  if (actions[out.action]) {
    const target = words.shift();
    if (target === undefined) return { command: 'error', message: `${resource} ${out.action} needs a ${resource === 'retained' ? 'topic' : resource === 'queues' ? 'queue name' : resource === 'devices' ? 'device name' : resource === 'bridges' ? 'bridge name' : 'client identifier'}` };
    out.target = target;
  }
  const takesSettings = resource === 'queues' && (out.action === 'create' || out.action === 'update');
  for (const w of words) {
    const eqAt = w.indexOf('=');
    if (!takesSettings || eqAt <= 0) return { command: 'error', message: `unexpected argument "${w}"` };
    out.settings[w.slice(0, eqAt)] = typedValue(w.slice(eqAt + 1));
  }
  return out;
}
