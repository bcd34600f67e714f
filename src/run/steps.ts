import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sweepDeadTempFiles, tempPathFor, trackTempFile } from '../core/atomic-file.js';
import { createHttpClient } from '../core/http.js';
import type { Logger } from '../core/log.js';
import { checkIdentifier } from '../core/names.js';
import { plural } from '../core/plural.js';
import type { AnySource, ExtractReport, Shard, SourceIO } from '../core/source.js';
import { findSource } from '../sources/index.js';
import { loadFiles, type LoadRequest, type LoadSummary } from '../load/load-files.js';
import { partitionManifestName, partitionParquet } from '../transform/parquet/partition-parquet.js';
import type { ParquetSummary } from '../transform/parquet/write-parquet.js';
import type { OutputFormat } from '../delta/options.js';
import type { DeltaWriteResult } from '../delta/write-table.js';
import { PACKAGE_NAME, VERSION } from '../version.js';
import { fileRecord } from './cache.js';
import { recordTransform } from './data-dir.js';
import { acquireRawLock } from './lock.js';
import type { FileRecord } from './run-manifest.js';
import { callSource, instanceOf, type SourceParams } from './source-adapter.js';

/** The three steps, each usable alone (etl extract/transform/load) or chained by the pipeline. */
export interface HttpParams {
  /** A connection silent this long is given up. */
  timeoutSeconds: number;
  /** One file (or the page) is given up after this long, retries included; none when undefined. */
  downloadTimeoutSeconds?: number;
  retries: number;
}

export interface TransformParams {
  /** Parquet file to write (a folder with partitionBy); default <data-dir>/processed/<source>/<dataset>.parquet (or /<dataset>/). */
  out?: string;
  skipBad: boolean;
  /** Hive-partition the output by this column: <out>/<column>=<value>/part-0.parquet and <out>/_manifest.json. */
  partitionBy?: string;
  /** delta: <out> is a Delta table the run commits to (default parquet). */
  format?: OutputFormat;
  mergeKey?: string[];
  /** For a Delta commit: the pipeline and run, so a retried commit is not made twice. */
  txn?: { appId: string; version: number };
}

export interface TransformOutput {
  summary: ParquetSummary;
  /** Every file written, with its sha256 and rows (the partition manifest last, without rows). */
  files: FileRecord[];
  /** With partitionBy: which partitions were rewritten and which removed; the others were left as they were. */
  partitions?: { dir: string; written: Array<string | null>; removed: Array<string | null> };
  /** With format delta: what was committed. */
  delta?: DeltaWriteResult;
}

/** Where and how `load` uploads: LoadRequest without the files and the logger. */
export type LoadParams = Pick<LoadRequest, 'bucket' | 'keyTemplate' | 'sink' | 'concurrency' | 'dryRun' | 'force' | 'table' | 'mode' | 'mergeKey'> & {
  /** Set: the run's table is committed to the Delta table <bucket>/<dataset>/ instead of uploaded as files. */
  delta?: { partitionBy: string | undefined; mergeKey: string[] | undefined };
};

/** `source`, when given, names its URL flag and its offline way in the hints of network errors. */
export function createSourceIO(http: HttpParams, log: Logger, source?: AnySource): SourceIO {
  const client = createHttpClient({
    timeoutMs: http.timeoutSeconds * 1000,
    deadlineMs: http.downloadTimeoutSeconds === undefined ? undefined : http.downloadTimeoutSeconds * 1000,
    retries: http.retries,
    retryBaseMs: 1000,
    maxRetryWaitMs: 60_000,
    userAgent: `${PACKAGE_NAME}/${VERSION} (+https://www.npmjs.com/package/${PACKAGE_NAME})`,
    log,
    ...(source ? { urlFlag: source.baseUrl ? '--base-url' : '--url', offlineHint: source.offline } : {}),
  });
  return { http: client, log, now: () => new Date() };
}

export async function extractStep(params: SourceParams, http: HttpParams, log: Logger): Promise<ExtractReport> {
  const io = createSourceIO(http, log, findSource(params.source));
  try {
    return await callSource('extract', params, io);
  } finally {
    await io.http.close();
  }
}

/**
 * Runs `work` holding the dataset's raw-layer lock: extract writes the raw layer and transform reads it,
 * and neither may start while the other is at work on the same dataset (exit 75, nothing done).
 */
export async function withRawLock<T>(params: Pick<SourceParams, 'dataDir' | 'source' | 'dataset' | 'flags'>, log: Logger, work: () => Promise<T>): Promise<T> {
  const lock = await acquireRawLock(params.dataDir, params.source, params.dataset, randomBytes(8).toString('hex'), log, instanceOf(params));
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/** processed/<source>/<dataset>.parquet, or the folder processed/<source>/<dataset>/; a many-things dataset's file is named after its instance (processed/postgres/public.orders.parquet). */
export function defaultOutput(dataDir: string, source: string, dataset: string, partitioned = false, instance?: string): string {
  checkIdentifier(source, 'source');
  checkIdentifier(dataset, 'dataset');
  const name = instance ?? dataset;
  return path.join(dataDir, 'processed', source, partitioned ? name : `${name}.parquet`);
}

/** Reads the source's table and writes it as one parquet file (or a partitioned folder); the data dir records it for `etl load`. */
export async function transformStep(params: SourceParams, transform: TransformParams, log: Logger): Promise<TransformOutput> {
  // Transform reads local files only; the client is there because the Source contract hands one over.
  const io = createSourceIO({ timeoutSeconds: 60, retries: 0 }, log);
  try {
    const table = await callSource('transform', params, io);
    // Named after the table, so a declaration file's own name counts.
    const dataset = table.schema.name;
    const delta = transform.format === 'delta';
    const out = path.resolve(transform.out ?? defaultOutput(params.dataDir, params.source, dataset, transform.partitionBy !== undefined || delta, table.instance));
    // Partitioned or Delta: the whole table goes to a temp file beside the folder first, then is split.
    const staged = transform.partitionBy !== undefined || delta;
    const target = staged ? tempPathFor(`${out}.parquet`) : out;
    const untrack = staged ? trackTempFile(target) : () => false;
    const swept = await sweepDeadTempFiles(path.dirname(out));
    if (swept.length > 0) log.info(`removed ${swept.length} temp file(s) an interrupted run left beside ${out}`);
    const progress = log.progress(`${dataset}: writing ${out}`);
    // Loaded here, not at start-up: `etl --help` and the other commands never need the writer.
    const { writeParquet } = await import('../transform/parquet/write-parquet.js');
    const summary = await writeParquet(table, target, {
      skipBadParts: transform.skipBad,
      onPartSkipped: (name, error) => log.warn(`skipped ${name}: ${error.message}`),
    }).catch((error: unknown) => {
      progress.fail(`${dataset}: nothing written`);
      throw error;
    });
    progress.done(`${dataset}: ${plural(summary.rows, 'row')} from ${plural(summary.parts.length, 'file')}`);
    if (delta) {
      const { commitRunToDelta } = await import('../delta/run-delta.js');
      const result = await commitRunToDelta({ parquet: target, table: out, sink: { endpoint: undefined, region: undefined }, partitionBy: transform.partitionBy, mergeKey: transform.mergeKey, txn: transform.txn }, log).finally(async () => {
        await rm(target, { force: true });
        untrack();
      });
      return { summary: { ...summary, path: out }, files: [], delta: result };
    }
    const output = transform.partitionBy
      ? await partition(summary, transform.partitionBy, out, log, params.shard).finally(async () => {
          await rm(target, { force: true });
          untrack();
        })
      : { summary, files: [await fileRecord(out, summary.rows)] };
    await recordTransform(params.dataDir, {
      source: params.source,
      dataset,
      output: out,
      files: output.files.map(({ path, sha256, bytes }) => ({ path, sha256, bytes })),
      ...(transform.partitionBy ? { last: partitionManifestName(params.shard) } : {}),
      written_at: new Date().toISOString(),
    });
    return output;
  } finally {
    await io.http.close();
  }
}

async function partition(summary: ParquetSummary, column: string, dir: string, log: Logger, shard: Shard | undefined): Promise<TransformOutput> {
  const { manifest, written, removed } = await partitionParquet(summary.path, column, dir, shard);
  log.info(`partitioned by ${column}: ${manifest.files.length} partitions, ${written.length} rewritten${removed.length > 0 ? `, ${removed.length} removed` : ''} -> ${dir}`);
  return {
    summary: { ...summary, path: dir },
    files: [
      ...manifest.files.map((file) => ({ path: path.join(dir, file.path), sha256: file.sha256, bytes: file.bytes, rows: file.rows })),
      await fileRecord(path.join(dir, partitionManifestName(shard))),
    ],
    partitions: { dir, written, removed },
  };
}

/**
 * Uploads the files transform wrote, as recorded (each must still hash to its sha256), or a partitioned
 * folder's under <prefix><folder name>/ with its manifest last.
 */
export function loadStep(outputs: readonly FileRecord[], load: LoadParams, log: Logger, partitionedDir?: string, shard?: Shard): Promise<LoadSummary> {
  const common = { inputs: outputs.map((output) => output.path), bucket: load.bucket, sink: load.sink, concurrency: load.concurrency, dryRun: load.dryRun, force: load.force, table: load.table, mode: load.mode, mergeKey: load.mergeKey, log };
  const named = (name: (file: string) => string) => outputs.map((output) => ({ path: output.path, name: name(output.path), sha256: output.sha256 }));
  if (!partitionedDir) return loadFiles({ ...common, files: named((file) => path.basename(file)), keyTemplate: load.keyTemplate });
  return loadFiles({
    ...common,
    files: named((file) => path.relative(partitionedDir, file).split(path.sep).join('/')),
    keyTemplate: `${path.basename(partitionedDir)}/${load.keyTemplate}`,
    last: partitionManifestName(shard),
  });
}

/** The run's table (one parquet file from transform) committed to the Delta table <bucket>/<folder>/. */
export async function deltaLoadStep(parquet: string, folder: string, load: LoadParams & { delta: NonNullable<LoadParams['delta']> }, txn: { appId: string; version: number }, log: Logger): Promise<DeltaWriteResult> {
  const { commitRunToDelta } = await import('../delta/run-delta.js');
  const table = load.bucket.endsWith('/') ? `${load.bucket}${folder}/` : `${load.bucket}/${folder}/`;
  return commitRunToDelta({ parquet, table, sink: load.sink, partitionBy: load.delta.partitionBy, mergeKey: load.delta.mergeKey, txn }, log);
}

export function describeTransform(summary: ParquetSummary): string {
  const skipped = summary.skipped.length > 0 ? `, ${summary.skipped.length} skipped (${summary.skipped.map((s) => s.name).join(', ')})` : '';
  return `transform: ${plural(summary.rows, 'row')} from ${plural(summary.parts.length, 'file')}${skipped} -> ${summary.path}`;
}
