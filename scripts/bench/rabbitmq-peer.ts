// RabbitMQ 3.10 with its MQTT plugin as a benchmark peer (issue 13): the durable broker Wharf is meant to make
// unnecessary. Every measurement gets its own node in a temp directory on loopback ports, never the system
// service: RABBITMQ_* variables point its configuration, Mnesia/quorum data, logs and Erlang cookie there, and
// its own epmd (a foreground child on a free port) is stopped with it.
//
// MQTT subscriptions with clean session 0 and QoS 1 become durable queues of type quorum
// (`mqtt.durable_queue_type = quorum`): the plugin PUBACKs a QoS 1 PUBLISH once the queue confirmed it, and a
// quorum queue confirms after its Raft log (the ra WAL) is fdatasync'd, the same promise Wharf makes.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The release's own script: Debian's /usr/sbin/rabbitmq-server wrapper would `su` to user rabbitmq. */
const SERVER_CANDIDATES = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin/rabbitmq-server'];
const EPMD_CANDIDATES = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'];
/** Boot takes 5-20 s on this 2-core machine (Mnesia, feature flags, the ra systems, then the plugin's listener). */
export const RABBITMQ_START_TIMEOUT_MS = 90_000;
/** argv[0] of the Erlang VM the server script starts: the broker process whose RSS, CPU and signals count. */
export const RABBITMQ_BROKER_ARGV0 = 'beam.smp';

function first(candidates: readonly string[]): string | null {
  for (const p of candidates) if (existsSync(p)) return p;
  return null;
}

export function rabbitmqUnavailableReason(): string | null {
  if (first(SERVER_CANDIDATES) === null) return 'rabbitmq-server not found (apt-get install rabbitmq-server)';
  if (first(EPMD_CANDIDATES) === null) return 'epmd not found (apt-get install erlang-base)';
  return null;
}

export interface RabbitmqLaunch {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  /** Stops the node's own epmd: call after the broker exited. */
  stopEpmd: () => void;
}

/**
 * Writes the node's configuration into `tmpDir`, starts its epmd on `epmdPort`, and returns how to start the
 * server with the MQTT listener on 127.0.0.1:`port` (no AMQP listener) and Erlang distribution on `distPort`.
 */
export async function prepareRabbitmq(tmpDir: string, port: number, epmdPort: number, distPort: number): Promise<RabbitmqLaunch> {
  const conf = path.join(tmpDir, 'rabbitmq.conf');
  await writeFile(
    conf,
    [
      'listeners.tcp = none',
      `mqtt.listeners.tcp.default = 127.0.0.1:${port}`,
      'mqtt.allow_anonymous = true',
      // QoS 1 subscriptions of persistent sessions: quorum queues, confirmed after fdatasync of the ra WAL.
      'mqtt.durable_queue_type = quorum',
      'loopback_users = none',
      '',
    ].join('\n'),
  );
  const plugins = path.join(tmpDir, 'enabled_plugins');
  await writeFile(plugins, '[rabbitmq_mqtt].\n');
  // The Mnesia base must exist (rabbit creates its feature-flags file there); the data dir is under os.tmpdir(),
  // the disk every peer's data goes to.
  for (const d of ['mnesia', 'log', 'plugins-expand']) mkdirSync(path.join(tmpDir, d), { recursive: true });
  const epmd: ChildProcess = spawn(first(EPMD_CANDIDATES)!, ['-port', String(epmdPort)], { stdio: 'ignore' });
  const stopEpmd = () => {
    if (epmd.exitCode === null && epmd.signalCode === null) epmd.kill('SIGTERM');
  };
  const env: Record<string, string> = {
    HOME: tmpDir, // the Erlang cookie goes there
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODENAME: `bench${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: conf,
    RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
    RABBITMQ_MNESIA_BASE: path.join(tmpDir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(tmpDir, 'log'),
    RABBITMQ_PLUGINS_EXPAND_DIR: path.join(tmpDir, 'plugins-expand'),
    RABBITMQ_PID_FILE: path.join(tmpDir, 'rabbitmq.pid'),
    RABBITMQ_LOGS: '-',
    ERL_CRASH_DUMP: path.join(tmpDir, 'erl_crash.dump'), // never in the working directory (the repository)
  };
  return { cmd: first(SERVER_CANDIDATES)!, args: [], env, stopEpmd };
}
