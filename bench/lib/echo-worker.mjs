/** worker_threads worker: posts every message straight back. */
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (m) => parentPort.postMessage(m));
