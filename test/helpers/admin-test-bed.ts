// One admin-API broker per test (startAdminBroker) and the MQTT.js clients the test opens on it, so that the
// admin suites clean up the same way: every client ended at once, then the broker stopped, after each test.

import type { IClientOptions, MqttClient } from 'mqtt';
import type { WharfConfig } from '../../src/config/types.js';
import { startAdminBroker, type AdminBroker } from './admin.js';
import { connectClient, endClient } from './mqttjs.js';

export class AdminTestBed {
  private running: AdminBroker | undefined;
  /** The clients opened with client() and not yet ended by stop(). */
  clients: MqttClient[] = [];

  /** The broker of the current test; a test that uses it before start() is wrong, so this throws. */
  get tb(): AdminBroker {
    if (this.running === undefined) throw new Error('AdminTestBed: no broker started for this test');
    return this.running;
  }

  async start(tweak?: (c: WharfConfig) => void): Promise<AdminBroker> {
    this.running = await startAdminBroker(tweak);
    return this.running;
  }

  /** An MQTT.js client (MQTT 5 unless opts say otherwise) connected to the broker, ended by stop(). */
  async client(clientId: string, opts: IClientOptions = {}): Promise<MqttClient> {
    const c = await connectClient(this.tb.url, { clientId, ...opts });
    this.clients.push(c);
    return c;
  }

  /** Ends the clients forcibly (a test may leave messages unacknowledged) and stops the broker, if any. */
  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => endClient(c, true)));
    this.clients = [];
    await this.running?.stop();
    this.running = undefined;
  }
}
