import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../core/errors.js';

/** Heap a config file's parser may use: a file at the size cap needs a fraction of it. */
const PARSER_HEAP_MB = 512;

/** Runs in a worker: CommonJS, given the text and the path of the yaml package. */
const PARSER = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  const data = workerData.json ? JSON.parse(workerData.text) : require(workerData.yaml).parse(workerData.text, { maxAliasCount: 100 });
  parentPort.postMessage({ data });
} catch (error) {
  parentPort.postMessage({ error: String((error && error.message) || error) });
}
`;

/**
 * Parses a config file's text (YAML, or JSON) on a worker thread: YAML of a few MB takes seconds of synchronous
 * work, and the main thread stays free to answer SIGTERM/SIGINT at once. The worker's heap is capped, and YAML
 * aliases are bounded (at most 100 expanded), so a crafted file costs bounded memory and time.
 */
export function parseConfigText(text: string, json: boolean, file: string): Promise<unknown> {
  const yaml = createRequire(import.meta.url).resolve('yaml');
  const invalid = (problem: string): ConfigError =>
    new ConfigError(`${file}: not valid ${json ? 'JSON' : 'YAML'}: ${problem.split('\n')[0]}`, {
      hint: /alias/i.test(problem) ? 'YAML aliases (*name) may be expanded at most 100 times in one file: write the values out' : 'fix the syntax at the position given',
    });
  return new Promise((resolve, reject) => {
    const worker = new Worker(PARSER, { eval: true, workerData: { text, json, yaml }, resourceLimits: { maxOldGenerationSizeMb: PARSER_HEAP_MB }, stdout: true, stderr: true });
    worker.once('message', (message: { data?: unknown; error?: string }) => {
      void worker.terminate();
      if (message.error !== undefined) reject(invalid(message.error));
      else resolve(message.data);
    });
    worker.once('error', (error: Error & { code?: string }) => {
      reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new ConfigError(`${file}: needs more than ${PARSER_HEAP_MB} MB to parse`, { hint: 'a pipeline file is a few pipelines of a few fields: split or simplify it' }) : invalid(error.message));
    });
  });
}
