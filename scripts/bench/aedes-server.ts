// Minimal Aedes broker for the benchmark: in-memory (default) persistence and
// mq, plain TCP on 127.0.0.1:<port>. Usage: node aedes-server.js <port>
import net from 'node:net';
import { Aedes } from 'aedes';
import { HEAP_FILE_ENV, startHeapSampler } from './heap-sampler.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: aedes-server.js <port>');
  process.exit(2);
}

// Opt-in memory sampling (scenario 7): process.memoryUsage() into the file named by BENCH_HEAP_FILE.
const heapFile = process.env[HEAP_FILE_ENV];
if (heapFile) startHeapSampler(heapFile);

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(port, '127.0.0.1', () => {
  console.log(`aedes listening on 127.0.0.1:${port}`);
});

const shutdown = (): void => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
