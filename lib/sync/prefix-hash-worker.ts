/**
 * Worker thread of PrefixHasher when no seed-scan worker is there to take
 * over (prefix-hash-handler.ts does the work). Imports nothing else of the
 * package, so it starts fast.
 */
import { parentPort } from 'node:worker_threads';
import { prefixHashHandler, type PrefixHashMessage } from './prefix-hash-handler.js';

const handle = prefixHashHandler((reply) => parentPort!.postMessage(reply));
parentPort!.on('message', (msg: PrefixHashMessage) => handle(msg));
