// Node built-in modules an idle broker does not use, loaded on their first use (issue 13). Importing node:crypto
// costs about 1 MB of RSS (its bindings and OpenSSL's tables paged in) although a broker needs it only for a client
// without a client identifier, an over-long store key, an admin token or a password check; node:child_process and
// node:worker_threads are only for a board's second process, a data-file probe and large YAML files; node:zlib
// (0.25 MB) is for the first CRC of a written record. Synchronous (a require), so that their callers stay synchronous.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let crypto: typeof import('node:crypto') | undefined;
let childProcess: typeof import('node:child_process') | undefined;
let workerThreads: typeof import('node:worker_threads') | undefined;
let zlib: typeof import('node:zlib') | undefined;

export const nodeCrypto = (): typeof import('node:crypto') => (crypto ??= require('node:crypto') as typeof import('node:crypto'));
export const nodeChildProcess = (): typeof import('node:child_process') => (childProcess ??= require('node:child_process') as typeof import('node:child_process'));
export const nodeWorkerThreads = (): typeof import('node:worker_threads') => (workerThreads ??= require('node:worker_threads') as typeof import('node:worker_threads'));
export const nodeZlib = (): typeof import('node:zlib') => (zlib ??= require('node:zlib') as typeof import('node:zlib'));
