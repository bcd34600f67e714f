import { parentPort, workerData } from 'node:worker_threads';
import { BinaryCopyDecoder, type CopyFieldKind } from '../core/copy-binary.js';
import type { Column } from '../core/table.js';
import { ParquetFileWriter } from '../transform/parquet/parquet-file.js';

/**
 * The Postgres extract's second thread: binary COPY bytes in (transferred, not copied), a raw parquet chunk out.
 * The main thread reads the socket and strips the protocol's framing meanwhile; on one thread the two took
 * turns (README, Performance, issue 23).
 */
export interface CopyWorkerJob {
  file: string;
  columns: Column[];
  kinds: CopyFieldKind[];
  batchRows: number;
  gzipLevel: number;
}
export type ToCopyWorker = { chunk: Uint8Array } | { end: true } | { abort: true };
export type FromCopyWorker = { consumed: true } | { done: number } | { failed: string } | { closed: true };

const job = workerData as CopyWorkerJob;
const port = parentPort!;
const decoder = new BinaryCopyDecoder(job.kinds, job.batchRows);
const opening = ParquetFileWriter.create(job.file, job.columns, { gzipLevel: job.gzipLevel });
let rows = 0;
let queue: Promise<void> = Promise.resolve();
let stopped = false;

async function handle(message: ToCopyWorker): Promise<void> {
  const writer = await opening;
  if ('abort' in message) {
    stopped = true;
    await writer.close();
    port.postMessage({ closed: true } satisfies FromCopyWorker);
    return;
  }
  if ('chunk' in message) {
    decoder.push(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
    for (let batch = decoder.take(); batch; batch = decoder.take()) {
      await writer.appendColumns(batch);
      rows += batch.rows;
    }
    port.postMessage({ consumed: true } satisfies FromCopyWorker);
    return;
  }
  const last = decoder.finish();
  if (last) {
    await writer.appendColumns(last);
    rows += last.rows;
  }
  await writer.finish();
  port.postMessage({ done: rows } satisfies FromCopyWorker);
}

port.on('message', (message: ToCopyWorker) => {
  queue = queue
    .then(() => (stopped ? undefined : handle(message)))
    .catch(async (error: unknown) => {
      stopped = true;
      await (await opening.catch(() => undefined))?.close();
      port.postMessage({ failed: error instanceof Error ? error.message : String(error) } satisfies FromCopyWorker);
    });
});
