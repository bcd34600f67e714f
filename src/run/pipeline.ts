import path from 'node:path';
import { stat } from 'node:fs/promises';
import { sweepDeadTempFiles } from '../core/atomic-file.js';
import { ConfigError, EXIT_INTERNAL, LoadError, StepTimeoutError, errorMessage, isEtlError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { isPostgresUrl } from '../core/postgres.js';
import { rawDatasetDir } from '../core/raw-layer.js';
import { redact } from '../core/redact.js';
import type { ExtractReport } from '../core/source.js';
import { listInputFiles } from '../load/input-files.js';
import { failIfAnyFailed, type LoadSummary } from '../load/load-files.js';
import type { ParquetSummary } from '../transform/parquet/write-parquet.js';
import { VERSION } from '../version.js';
import { sendAlert, type AlertParams } from './alert.js';
import { cacheFile, cachedOutputsProblem, fileRecord, readCacheState, whatChanged, writeCacheState, type CacheState, type Fingerprint } from './cache.js';
import { checkPipeline } from './check-pipeline.js';
import { stateDir } from './data-dir.js';
import { acquireLock, acquireRawLock } from './lock.js';
import { deltaTxnVersion, newRunId, readRun, runsDir, writeRunManifest, type FileRecord, type RunManifest, type StepName, type StepRecord } from './run-manifest.js';
import { datasetFileOf, inputsOf, instanceOf, type SourceParams } from './source-adapter.js';
import { defaultOutput, deltaLoadStep, extractStep, loadStep, transformStep, type HttpParams, type LoadParams, type TransformParams } from './steps.js';
import type { DeltaWriteResult } from '../delta/write-table.js';

/**
 * The one place the stages meet: a pipeline is extract -> transform -> (load), run under a lock, each step
 * skipped when its inputs are unchanged since its last successful run, and recorded in a run manifest.
 */
export interface PipelineRequest {
  /** `<source>/<dataset>` for a built-in pipeline, the declared name for one from a config file. */
  name: string;
  source: SourceParams;
  http: HttpParams;
  transform: TransformParams;
  /** Undefined: the parquet stays in the data dir. */
  load: LoadParams | undefined;
  /** Run every step even when its inputs are unchanged. */
  noCache: boolean;
  /** Extra attempts of a whole step after a failure that may pass next time (network, store). */
  stepRetries: Record<StepName, number>;
  /** Seconds a step may take, retries included; undefined: no limit. */
  stepTimeouts: Record<StepName, number | undefined>;
  alert: AlertParams | undefined;
}

export interface PipelineResult {
  manifest: RunManifest;
  extract?: ExtractReport;
  transform?: ParquetSummary;
  load?: LoadSummary;
}

/** Names the pipeline's lock, cache state and run ids. */
export function pipelineSlug(request: PipelineRequest): string {
  const shard = request.source.shard;
  return request.name.replace(/[^A-Za-z0-9_-]+/g, '-') + (shard ? `-shard-${shard.index}-of-${shard.count}` : '');
}

export async function runPipeline(request: PipelineRequest, log: Logger): Promise<PipelineResult> {
  // Before the lock, the first request and the first write: a request that cannot finish costs nothing.
  await checkPipeline(request);
  const { dataDir } = request.source;
  const slug = pipelineSlug(request);
  const started = new Date();
  const manifest: RunManifest = {
    run_id: newRunId(slug, started),
    pipeline: request.name,
    params: describeParams(request),
    etl_version: VERSION,
    pid: process.pid,
    status: 'running',
    started_at: started.toISOString(),
    ended_at: null,
    steps: [],
  };
  const lock = await acquireLock(dataDir, slug, manifest.run_id, log, started);
  // Extract writes the raw layer and transform reads it: no other extract or transform of the dataset meanwhile. Busy: nothing done.
  const rawLock = inputsOf(request.source)
    ? undefined
    : await acquireRawLock(dataDir, request.source.source, request.source.dataset, manifest.run_id, log, instanceOf(request.source)).catch(async (error: unknown) => {
        await lock.release();
        throw error;
      });
  if (lock.tookOverFrom) await markInterrupted(dataDir, lock.tookOverFrom.run_id);
  const result: PipelineResult = { manifest };
  try {
    await sweepLeftoverTemps(request, log);
    await writeRunManifest(dataDir, manifest);
    await runSteps(request, manifest, result, log, () => rawLock?.release());
    manifest.status = 'succeeded';
  } catch (error) {
    manifest.status = 'failed';
    const failed = manifest.steps.find((step) => step.status === 'failed');
    manifest.error = { step: failed?.name ?? null, message: redact(errorMessage(error)), exit_code: isEtlError(error) ? error.exitCode : EXIT_INTERNAL };
    throw error;
  } finally {
    manifest.ended_at = new Date().toISOString();
    await writeRunManifest(dataDir, manifest);
    await rawLock?.release();
    await lock.release();
    if (request.alert && (manifest.status === 'failed' || request.alert.onSuccess)) await sendAlert(request.alert, manifest, log);
  }
  return result;
}

/** `rawDone` releases the raw layer once transform no longer reads it, so a load does not hold back the next extract. */
async function runSteps(request: PipelineRequest, manifest: RunManifest, result: PipelineResult, log: Logger, rawDone: () => Promise<void> | undefined): Promise<void> {
  const { dataDir } = request.source;
  const slug = pipelineSlug(request);
  const cache = await readCacheState(dataDir, slug);
  const step = (name: StepName) => new StepRun(name, request, manifest, log);

  if (inputsOf(request.source)) {
    await step('extract').skip('--input given: the workbooks are read where they are');
  } else {
    await step('extract').run(async (record) => {
      // Extract always asks: conditional GETs make an unchanged file cost 0 bytes.
      record.cache = 'always asks the source (conditional GETs)';
      const report = await extractStep(request.source, request.http, log);
      result.extract = report;
      record.outputs = await rawFileRecords(report.rawDir);
      record.summary = { url: redact(report.url), downloaded: report.files.filter((f) => f.status === 'downloaded').length, unchanged: report.files.filter((f) => f.status === 'unchanged').length };
    });
  }

  if (request.source.shard && result.extract?.files.length === 0) {
    await step('transform').skip('this shard has no work units (more shards than editions)');
    if (request.load) await step('load').skip('nothing to upload from this shard');
    return;
  }
  const transformCheck = await checkTransform(request, cache, log);
  let outputs: FileRecord[] = [];
  await step('transform').run(async (record) => {
    record.inputs = transformCheck.inputs;
    if (transformCheck.cached) {
      record.cache = 'cached: inputs, declaration, parameters and etl version unchanged';
      record.outputs = outputs = transformCheck.cached.outputs;
      return 'cached';
    }
    record.cache = transformCheck.why;
    const txn = { appId: slug, version: deltaTxnVersion(manifest) };
    const { summary, files, partitions, delta } = await transformStep(request.source, request.transform.format === 'delta' ? { ...request.transform, txn } : request.transform, log);
    result.transform = summary;
    record.outputs = outputs = files;
    record.summary = {
      rows: summary.rows,
      parts: summary.parts.length,
      skipped: summary.skipped.map((s) => s.name),
      ...(partitions ? { partitions_rewritten: partitions.written.length, partitions_removed: partitions.removed.length } : {}),
      ...(delta ? deltaSummary(delta) : {}),
    };
    cache.transform = { fingerprint: transformCheck.fingerprint, outputs };
    await writeCacheState(dataDir, slug, cache);
    return 'succeeded';
  });
  await rawDone();

  const load = request.load;
  if (!load) return;
  await step('load').run(async (record) => {
    const check = checkLoad(load, outputs, cache, request.noCache);
    record.inputs = outputs;
    if (check.cached) {
      record.cache = 'cached: the same files were uploaded to the same destination by an earlier run';
      record.outputs = check.cached.outputs;
      return 'cached';
    }
    record.cache = check.why;
    if (load.delta) {
      const result = await deltaLoadStep(outputs[0]!.path, path.basename(outputOf(request), '.parquet'), { ...load, delta: load.delta }, { appId: slug, version: deltaTxnVersion(manifest) }, log);
      record.summary = deltaSummary(result);
      record.outputs = result.added.map((file) => ({ path: `${result.location}${file}`, sha256: '', bytes: 0 }));
      cache.load = { fingerprint: check.fingerprint, outputs: record.outputs };
      await writeCacheState(dataDir, slug, cache);
      return 'succeeded';
    }
    const summary = await loadStep(outputs, load, log, request.transform.partitionBy ? outputOf(request) : undefined, request.source.shard);
    result.load = summary;
    record.summary = { uploaded: summary.uploaded, skipped: summary.skipped, failed: summary.failed, bytes_uploaded: summary.bytesUploaded };
    record.outputs = summary.files.map((file) => ({ path: file.uri, sha256: outputs.find((o) => o.path === path.resolve(file.path))?.sha256 ?? '', bytes: file.bytes }));
    failIfAnyFailed(summary);
    if (!load.dryRun) {
      cache.load = { fingerprint: check.fingerprint, outputs: record.outputs };
      await writeCacheState(dataDir, slug, cache);
    }
    return 'succeeded';
  });
}

/** What a Delta commit did, for the run manifest and the run's one line. */
function deltaSummary(result: DeltaWriteResult): Record<string, unknown> {
  return { delta: result.version === undefined ? 'unchanged, nothing committed' : `version ${result.version}`, files_added: result.added.length, files_removed: result.removed.length };
}

/** One step's entry in the run manifest: timed, retried when worth it, written as it starts and at its end whatever happened. */
class StepRun {
  private readonly record: StepRecord;

  constructor(name: StepName, private readonly request: PipelineRequest, private readonly manifest: RunManifest, private readonly log: Logger) {
    this.record = { name, status: 'running', started_at: new Date().toISOString(), duration_s: 0, attempts: 0, cache: '', inputs: [], outputs: [] };
    manifest.steps.push(this.record);
  }

  async skip(why: string): Promise<void> {
    Object.assign(this.record, { status: 'skipped', cache: why });
    await writeRunManifest(this.request.source.dataDir, this.manifest);
  }

  /** Runs the body, again after a failure that may pass next time, as often as the step's retries allow. */
  private async attempts(body: (record: StepRecord) => Promise<'succeeded' | 'cached' | void>): Promise<StepRecord['status']> {
    for (;;) {
      this.record.attempts++;
      try {
        return (await body(this.record)) ?? 'succeeded';
      } catch (error) {
        const retries = this.request.stepRetries[this.record.name];
        if (this.record.attempts > retries || !mayPassNextTime(error)) throw error;
        this.log.warn(`${this.record.name} failed (${errorMessage(error)}); attempt ${this.record.attempts + 1} of ${retries + 1}`);
      }
    }
  }

  async run(body: (record: StepRecord) => Promise<'succeeded' | 'cached' | void>): Promise<void> {
    const started = performance.now();
    await writeRunManifest(this.request.source.dataDir, this.manifest);
    try {
      this.record.status = await withTimeout(this.attempts(body), this.record.name, this.request.stepTimeouts[this.record.name]);
    } catch (error) {
      this.record.status = 'failed';
      this.record.error = redact(errorMessage(error));
      throw error;
    } finally {
      this.record.duration_s = Number(((performance.now() - started) / 1000).toFixed(3));
      await writeRunManifest(this.request.source.dataDir, this.manifest);
    }
  }
}

/** The step's body, or a StepTimeoutError once `seconds` have passed (the body is abandoned: the CLI ends the process). */
async function withTimeout<T>(work: Promise<T>, step: StepName, seconds: number | undefined): Promise<T> {
  if (seconds === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // Clamped to what a Node timer holds (2^31-1 ms; longer ones fire at once). The flags and config refuse more.
    timer = setTimeout(() => reject(new StepTimeoutError(step, seconds)), Math.min(seconds * 1000, 2 ** 31 - 1));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A killed run's manifest says `running` forever; the run that takes over its lock says what became of it. */
async function markInterrupted(dataDir: string, runId: string): Promise<void> {
  const dead = await readRun(dataDir, runId).catch(() => null);
  if (dead?.status === 'running') await writeRunManifest(dataDir, { ...dead, status: 'interrupted' });
}

function mayPassNextTime(error: unknown): boolean {
  return error instanceof LoadError || (isEtlError(error) && 'retriable' in error && error.retriable === true);
}

export interface StepCheck {
  fingerprint: Fingerprint;
  inputs: FileRecord[];
  /** Set when the step can be skipped: what the last successful run recorded. */
  cached: { outputs: FileRecord[] } | undefined;
  /** Why the step has to run. */
  why: string;
}

/** Transform depends on the raw files (or --input files), the declaration, its parameters and the etl version. */
export async function checkTransform(request: PipelineRequest, cache: CacheState, log: Logger): Promise<StepCheck> {
  const { source } = request;
  const given = inputsOf(source);
  const datasetFile = datasetFileOf(source);
  const inputs = given ? await inputFileRecords(given) : await rawFileRecords(rawDirOf(source));
  const fingerprint: Fingerprint = {
    inputs: Object.fromEntries(inputs.map((input) => [input.path, input.sha256])),
    declaration: datasetFile ? (await fileRecord(datasetFile)).sha256 : 'built-in',
    params: {
      dataset: source.dataset,
      // Stored in state/: a password or token in --url stays out of it (it does not change what transform writes).
      source_flags: redactValues(sortedFlags(source.flags)),
      skip_bad: request.transform.skipBad,
      out: outputOf(request),
      partition_by: request.transform.partitionBy ?? null,
      shard: source.shard ? `${source.shard.index}/${source.shard.count}` : null,
      ...(request.transform.format === 'delta' ? { format: 'delta', merge_key: request.transform.mergeKey?.join(',') ?? null } : {}),
    },
    etl_version: VERSION,
  };
  const previous = cache.transform;
  const why = request.noCache ? '--no-cache' : whatChanged(previous?.fingerprint, fingerprint);
  if (why !== null || !previous) return { fingerprint, inputs, cached: undefined, why: why ?? 'no earlier successful run' };
  const problem = await cachedOutputsProblem(previous.outputs, outputOf(request), request.transform.partitionBy !== undefined, cacheFile(source.dataDir, pipelineSlug(request)), log);
  if (problem) return { fingerprint, inputs, cached: undefined, why: problem };
  return { fingerprint, inputs, cached: { outputs: previous.outputs }, why: '' };
}

/** Load depends on the files' sha256s and where they go. */
export function checkLoad(load: LoadParams, outputs: FileRecord[], cache: CacheState, noCache: boolean): StepCheck {
  const fingerprint: Fingerprint = {
    inputs: Object.fromEntries(outputs.map((output) => [output.path, output.sha256])),
    declaration: 'none',
    params: { bucket: load.bucket, key: load.keyTemplate, endpoint: load.sink.endpoint ?? null, region: load.sink.region ?? null, ...tableParams(load), ...(load.delta ? { format: 'delta', partition_by: load.delta.partitionBy ?? null, merge_key: load.delta.mergeKey?.join(',') ?? null } : {}) },
    etl_version: VERSION,
  };
  const previous = cache.load;
  const why = noCache ? '--no-cache' : load.force ? '--force' : whatChanged(previous?.fingerprint, fingerprint);
  if (why !== null || !previous) return { fingerprint, inputs: outputs, cached: undefined, why: why ?? 'no earlier successful run' };
  return { fingerprint, inputs: outputs, cached: { outputs: previous.outputs }, why: '' };
}

/** A table destination's own flags; absent for object stores, so their fingerprints stay as they were. */
function tableParams(load: LoadParams): Record<string, string> {
  return Object.fromEntries(Object.entries({ table: load.table, mode: load.mode, merge_key: load.mergeKey }).filter((entry): entry is [string, string] => entry[1] !== undefined && isPostgresUrl(load.bucket)));
}

/** The parquet file, or with --partition-by the folder, that transform writes. */
export function outputOf(request: PipelineRequest): string {
  const { source, transform } = request;
  return path.resolve(transform.out ?? defaultOutput(source.dataDir, source.source, source.dataset, transform.partitionBy !== undefined || transform.format === 'delta', instanceOf(source)));
}

export function rawDirOf(source: SourceParams): string {
  return path.resolve(rawDatasetDir(source.dataDir, source.source, source.dataset));
}

/** Every file of the dataset's raw layer except its manifest (which changes with fetch times, not content). */
export async function rawFileRecords(rawDir: string): Promise<FileRecord[]> {
  const files = await listInputFiles([path.resolve(rawDir)]).catch(() => []);
  return Promise.all(files.filter((file) => file.name !== 'manifest.json').map((file) => fileRecord(file.path)));
}

async function inputFileRecords(inputs: readonly string[]): Promise<FileRecord[]> {
  // Checked here with transform's words: listInputFiles speaks of files to upload.
  for (const input of inputs) {
    await stat(input).catch(() => {
      throw new ConfigError(`--input ${input}: no such file or directory`, { hint: 'give workbooks or directories that exist (--input, or input: in the pipeline\'s options)' });
    });
  }
  return Promise.all((await listInputFiles(inputs)).map((file) => fileRecord(path.resolve(file.path))));
}

/** Temp files a killed run left in its raw folder, beside its output, in a partitioned output, and in runs/ and state/. */
async function sweepLeftoverTemps(request: PipelineRequest, log: Logger): Promise<void> {
  const out = outputOf(request);
  const leftovers = [
    ...(await sweepDeadTempFiles(runsDir(request.source.dataDir))),
    ...(await sweepDeadTempFiles(stateDir(request.source.dataDir))),
    ...(await sweepDeadTempFiles(rawDirOf(request.source), { recursive: true })),
    ...(await sweepDeadTempFiles(path.dirname(out))),
    ...(request.transform.partitionBy ? await sweepDeadTempFiles(out, { recursive: true }) : []),
  ];
  if (leftovers.length > 0) log.warn(`removed ${leftovers.length} temp file${leftovers.length === 1 ? '' : 's'} left by an interrupted run`);
}

function describeParams(request: PipelineRequest): Record<string, unknown> {
  const { source, transform, load } = request;
  return redactValues({
    source: source.source,
    dataset: source.dataset,
    data_dir: source.dataDir,
    source_flags: sortedFlags(source.flags),
    out: transform.out ?? null,
    skip_bad: transform.skipBad,
    partition_by: transform.partitionBy ?? null,
    shard: source.shard ? `${source.shard.index}/${source.shard.count}` : null,
    bucket: load?.bucket ?? null,
    key: load?.keyTemplate ?? null,
    endpoint: load?.sink.endpoint ?? null,
    region: load?.sink.region ?? null,
    ...(load ? tableParams(load) : {}),
    ...(transform.format === 'delta' || load?.delta ? { format: 'delta', partition_by: transform.partitionBy ?? load?.delta?.partitionBy ?? null, merge_key: (transform.mergeKey ?? load?.delta?.mergeKey)?.join(',') ?? null } : {}),
    no_cache: request.noCache,
    step_retries: request.stepRetries,
    step_timeouts: request.stepTimeouts,
  });
}

function redactValues(params: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(redact(JSON.stringify(params))) as Record<string, unknown>;
}

/** A source's flags in name order, so the same flags always give the same fingerprint. */
function sortedFlags(flags: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}
