import path from 'node:path';
import { createHttpClient } from '../core/http.js';
import type { Logger } from '../core/log.js';
import type { ExtractReport, SourceIO } from '../core/source.js';
import { loadFiles, type LoadSummary } from '../load/load-files.js';
import type { SinkOptions } from '../load/index.js';
import { writeParquet, type ParquetSummary } from '../transform/parquet/write-parquet.js';
import { VERSION } from '../version.js';
import { recordTransform } from './data-dir.js';
import { callSource, type SourceParams } from './source-adapter.js';

/** The three steps, each usable alone (etl extract/transform/load) or chained by the pipeline. */
export interface HttpParams {
  timeoutSeconds: number;
  retries: number;
}

export interface TransformParams {
  /** Parquet file to write; default <data-dir>/processed/<source>/<dataset>.parquet. */
  out?: string;
  skipBad: boolean;
}

export interface LoadParams {
  bucket: string;
  keyTemplate: string;
  sink: SinkOptions;
  concurrency: number;
  dryRun: boolean;
  force: boolean;
}

export function createSourceIO(http: HttpParams, log: Logger): SourceIO {
  const client = createHttpClient({
    timeoutMs: http.timeoutSeconds * 1000,
    retries: http.retries,
    retryBaseMs: 1000,
    maxRetryWaitMs: 60_000,
    userAgent: `etl/${VERSION} (+https://www.npmjs.com/package/etl)`,
    log,
  });
  return { http: client, log, now: () => new Date() };
}

export async function extractStep(params: SourceParams, http: HttpParams, log: Logger): Promise<ExtractReport> {
  const io = createSourceIO(http, log);
  try {
    return await callSource('extract', params, io);
  } finally {
    await io.http.close();
  }
}

export function defaultOutput(dataDir: string, source: string, dataset: string): string {
  return path.join(dataDir, 'processed', source, `${dataset}.parquet`);
}

/** Reads the source's table and writes it as one parquet file; the data dir records it for `etl load`. */
export async function transformStep(params: SourceParams, transform: TransformParams, log: Logger): Promise<ParquetSummary> {
  // Transform reads local files only; the client is there because the Source contract hands one over.
  const io = createSourceIO({ timeoutSeconds: 60, retries: 0 }, log);
  try {
    const table = await callSource('transform', params, io);
    // Named after the table, so a declaration file's own name counts.
    const dataset = table.schema.name;
    const out = transform.out ?? defaultOutput(params.dataDir, params.source, dataset);
    const progress = log.progress(`${dataset}: writing ${out}`);
    const summary = await writeParquet(table, out, {
      skipBadParts: transform.skipBad,
      onPartSkipped: (name, error) => log.warn(`skipped ${name}: ${error.message}`),
    }).catch((error: unknown) => {
      progress.fail(`${dataset}: nothing written`);
      throw error;
    });
    progress.done(`${dataset}: ${summary.rows} rows from ${summary.parts.length} workbooks`);
    await recordTransform(params.dataDir, { source: params.source, dataset, outputs: [summary.path], written_at: new Date().toISOString() });
    return summary;
  } finally {
    await io.http.close();
  }
}

export function loadStep(inputs: readonly string[], load: LoadParams, log: Logger): Promise<LoadSummary> {
  return loadFiles({ inputs, bucket: load.bucket, keyTemplate: load.keyTemplate, sink: load.sink, concurrency: load.concurrency, dryRun: load.dryRun, force: load.force, log });
}

export function describeTransform(summary: ParquetSummary): string {
  const skipped = summary.skipped.length > 0 ? `, ${summary.skipped.length} skipped (${summary.skipped.map((s) => s.name).join(', ')})` : '';
  return `transform: ${summary.rows} rows from ${summary.parts.length} workbooks${skipped} -> ${summary.path}`;
}
