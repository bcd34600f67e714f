import path from 'node:path';
import { stat } from 'node:fs/promises';
import { ConfigError, DataError, LoadError, errorMessage } from '../core/errors.js';
import { mapWithLimit, sleep } from '../core/concurrency.js';
import type { Logger } from '../core/log.js';
import type { LocalFile, Sink, UploadReceipt } from '../core/sink.js';
import { isPostgresUrl } from '../core/postgres.js';
import { VERSION } from '../version.js';
import { createSink } from './index.js';
import { mergeKeyFlag, objectUri, parseDestination, type Destination, type SinkOptions } from './destination.js';
import { postgresTarget } from './postgres-target.js';
import { contentTypeOf, hashLocalFile, listInputFiles, type InputFile } from './input-files.js';
import { checkKeyTemplate, renderObjectKey } from './object-key.js';
import { UploadError } from './upload-error.js';

export interface LoadRequest {
  /** Files and directories, as given on the command line. */
  inputs: readonly string[];
  /** Files already listed, instead of walking `inputs`: what a transform recorded, each with the sha256 it must still hash to. */
  files?: readonly InputFile[];
  /** `--to` or `--bucket` as typed: gs://, s3://, file://, a directory path, or postgres:// (a table). */
  bucket: string;
  keyTemplate: string;
  sink: SinkOptions;
  concurrency: number;
  /**
   * Say what would happen and send nothing. A bucket is not contacted at all (no request, no credentials used):
   * every file is listed as an upload. A local directory is compared, as reading it touches no network.
   */
  dryRun: boolean;
  /** Upload even when the destination already holds the same sha256. */
  force: boolean;
  log: Logger;
  now?: Date;
  /** A file (by its name below a directory input) uploaded only after every other file made it, e.g. a manifest. */
  last?: string;
  /** With a postgres:// destination: --table, --mode and --key (the merge key; the key template's default means none), as given. */
  table?: string;
  mode?: string;
  mergeKey?: string;
}

export type FileAction = 'uploaded' | 'skipped' | 'failed' | 'would-upload' | 'would-skip';

export interface FileOutcome {
  path: string;
  key: string;
  uri: string;
  action: FileAction;
  /** Why: "new", "content changed", "same sha256", "--force", or the error. */
  reason: string;
  bytes: number;
  receipt?: UploadReceipt;
  error?: Error;
}

export interface LoadSummary {
  destination: string;
  dryRun: boolean;
  files: FileOutcome[];
  uploaded: number;
  skipped: number;
  failed: number;
  bytesUploaded: number;
  seconds: number;
}

/** Whole-file attempts for a retriable failure; the SDKs also retry single requests and parts underneath. */
const MAX_ATTEMPTS = 3;
const RETRY_BASE_MS = 500;
const NOT_TRIED = 'not tried: an earlier file showed the destination cannot be written';

interface PlannedUpload {
  input: InputFile;
  key: string;
  uri: string;
  size: number;
}

/** Uploads every input file, skipping those the destination already holds, and reports each file's fate. */
export async function loadFiles(request: LoadRequest): Promise<LoadSummary> {
  if (isPostgresUrl(request.bucket)) {
    const { loadToPostgres } = await import('./postgres.js');
    const target = postgresTarget(request.bucket, request.table, request.mode, mergeKeyFlag(request.mergeKey));
    return loadToPostgres({ inputs: await postgresInputs(request), target, dryRun: request.dryRun, force: request.force, log: request.log });
  }
  const started = performance.now();
  const { log } = request;
  const destination = parseDestination(request.bucket);
  const planned = await planUploads(request, destination);
  // Created for a dry run too: settings (endpoint, region) are checked without a request.
  const sink = await createSink(destination, request.sink);
  const destinationUri = objectUri(destination, destination.prefix);
  const notCompared = request.dryRun && destination.scheme !== 'file' ? `not compared: a dry run sends no request to ${destination.scheme}://${destination.bucket}/` : undefined;
  const totalBytes = planned.reduce((sum, file) => sum + file.size, 0);
  const sentByFile = new Map<string, number>();
  let finished = 0;
  const progress = log.progress(`${request.dryRun ? 'checking' : 'uploading'} ${countOf(planned.length, 'file')} to ${destinationUri}`);
  const showProgress = (): void => {
    const sent = [...sentByFile.values()].reduce((sum, bytes) => sum + bytes, 0);
    progress.update(`${request.dryRun ? 'checking' : 'uploading to'} ${destinationUri}: ${finished}/${countOf(planned.length, 'file')}, ${formatBytes(sent)} of ${formatBytes(totalBytes)}`);
  };
  /** Set by a failure no other file can escape (credentials, missing bucket): files not yet started are not tried. */
  let stopReason: UploadError | undefined;

  const loadAll = (plans: PlannedUpload[]): Promise<FileOutcome[]> => mapWithLimit(plans, request.concurrency, async (plan): Promise<FileOutcome> => {
    const outcome = await (stopReason
      ? { path: plan.input.path, key: plan.key, uri: plan.uri, action: 'failed' as const, reason: NOT_TRIED, bytes: 0, error: stopReason }
      : loadOneFile(plan, sink, request, notCompared, (bytes) => {
          sentByFile.set(plan.key, bytes);
          showProgress();
        }));
    if (outcome.error instanceof UploadError && outcome.error.recovery === 'destination') stopReason ??= outcome.error;
    finished++;
    showProgress();
    return outcome;
  });
  const isLast = (plan: PlannedUpload): boolean => request.last !== undefined && plan.input.name === request.last;
  const files = await loadAll(planned.filter((plan) => !isLast(plan)));
  const final = planned.filter(isLast);
  if (files.some((file) => file.action === 'failed')) {
    files.push(...final.map((plan) => ({ path: plan.input.path, key: plan.key, uri: plan.uri, action: 'failed' as const, reason: 'not uploaded: it goes last, after every other file, and one failed', bytes: 0 })));
  } else {
    files.push(...(await loadAll(final)));
  }

  const count = (...actions: FileAction[]): number => files.filter((file) => actions.includes(file.action)).length;
  const summary: LoadSummary = {
    destination: destinationUri,
    dryRun: request.dryRun,
    files,
    uploaded: count('uploaded', 'would-upload'),
    skipped: count('skipped', 'would-skip'),
    failed: count('failed'),
    bytesUploaded: files.reduce((sum, file) => sum + (file.action === 'uploaded' ? file.bytes : 0), 0),
    seconds: (performance.now() - started) / 1000,
  };
  if (summary.failed > 0) progress.fail(`${summary.failed} of ${countOf(files.length, 'file')} failed`);
  else progress.done(`${countOf(files.length, 'file')} ${request.dryRun ? 'checked against' : 'in'} ${destinationUri}`);
  return summary;
}

/** Every file with its key, refusing bad templates and two files bound for one key before anything is sent. */
async function planUploads(request: LoadRequest, destination: Destination): Promise<PlannedUpload[]> {
  checkKeyTemplate(request.keyTemplate);
  const inputs = request.files ?? (await listInputFiles(request.inputs));
  if (inputs.length === 0) throw new ConfigError(`no files to upload in ${request.inputs.join(', ')}`, { hint: 'dot files and etl temp files are skipped' });
  const now = request.now ?? new Date();
  const planned = await Promise.all(inputs.map(async (input) => {
    const key = renderObjectKey(destination.prefix, request.keyTemplate, input, now);
    return { input, key, uri: objectUri(destination, key), size: (await stat(input.path)).size };
  }));
  const seen = new Map<string, string>();
  for (const { input, uri } of planned) {
    const other = seen.get(uri);
    if (other) throw new ConfigError(`${other} and ${input.path} would both be uploaded to ${uri}`, { hint: 'rename one, or load them in separate runs to different --bucket prefixes' });
    seen.set(uri, input.path);
  }
  return planned;
}

/** Hash, compare with the destination, upload and verify one file, retrying what may go through next time. */
async function loadOneFile({ input, key, uri }: PlannedUpload, sink: Sink, request: LoadRequest, notCompared: string | undefined, onProgress: (bytes: number) => void): Promise<FileOutcome> {
  const { log } = request;
  const outcome = (action: FileAction, reason: string, extra: Partial<FileOutcome> = {}): FileOutcome => ({ path: input.path, key, uri, action, reason, bytes: 0, ...extra });
  try {
    const local = await readLocal(input);
    for (let attempt = 1; ; attempt++) {
      try {
        const decision = notCompared ? { skip: false, reason: notCompared } : await decide(sink, key, local, request.force);
        if (decision.skip) {
          log.debug(`skipped ${input.path}: ${uri} already has sha256 ${local.sha256}`);
          return outcome(request.dryRun ? 'would-skip' : 'skipped', decision.reason);
        }
        if (request.dryRun) return outcome('would-upload', decision.reason, { bytes: local.size });
        const receipt = await sink.upload({
          file: local,
          key,
          contentType: contentTypeOf(input.name),
          metadata: { sha256: local.sha256, source: encodeURI(input.path.split('\\').join('/')), etl_version: VERSION },
          onProgress,
        });
        onProgress(local.size);
        log.info(`uploaded ${input.path} -> ${uri} (${formatBytes(local.size)}, ${receipt.method}${receipt.parts > 1 ? ` in ${receipt.parts} parts` : ''}, verified by ${receipt.verifiedWith})`);
        return outcome('uploaded', decision.reason, { bytes: local.size, receipt });
      } catch (error) {
        if (!(error instanceof UploadError) || error.recovery !== 'retry' || attempt >= MAX_ATTEMPTS) throw error;
        onProgress(0);
        const wait = RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
        log.warn(`${error.message}; attempt ${attempt + 1}/${MAX_ATTEMPTS} in ${(wait / 1000).toFixed(1)} s`);
        await sleep(wait);
      }
    }
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    // Not logged here: failIfAnyFailed turns every failure into the run's one error line.
    return outcome('failed', error.message, { error });
  }
}

/**
 * The file as it will be sent: hashed in the read that also gives the md5 the store's checksum is compared
 * with after the upload, so a recorded file goes out byte for byte as recorded, or not at all.
 */
async function readLocal(input: InputFile): Promise<LocalFile> {
  let local: LocalFile;
  try {
    local = await hashLocalFile(input.path);
  } catch (error) {
    throw new UploadError(`cannot read ${input.path}: ${errorMessage(error)}`, { recovery: 'file', cause: error });
  }
  if (input.sha256 !== undefined && local.sha256 !== input.sha256) {
    throw new DataError(`${input.path} changed after it was recorded (sha256 ${local.sha256.slice(0, 12)}…, recorded ${input.sha256.slice(0, 12)}…): not uploaded`, {
      hint: 'run the transform again, then load',
    });
  }
  return local;
}

/**
 * A table is loaded from one file or one partitioned folder. Files a transform recorded are checked against
 * their sha256 first; a partitioned folder (its manifest goes last) is handed over whole, and the sink checks
 * each partition against the folder's `_manifest.json`.
 */
async function postgresInputs(request: LoadRequest): Promise<readonly string[]> {
  if (!request.files) return request.inputs;
  await Promise.all(request.files.map((file) => readLocal(file)));
  const manifest = request.last === undefined ? undefined : request.files.find((file) => file.name === request.last);
  if (manifest) return [path.dirname(manifest.path)];
  return request.files.map((file) => file.path);
}

async function decide(sink: Sink, key: string, local: LocalFile, force: boolean): Promise<{ skip: boolean; reason: string }> {
  if (force) return { skip: false, reason: '--force' };
  const stored = await sink.stat(key);
  if (!stored) return { skip: false, reason: 'new' };
  if (stored.sha256 === local.sha256 && stored.size === local.size) return { skip: true, reason: 'same sha256' };
  return { skip: false, reason: stored.sha256 ? 'content changed' : 'no sha256 recorded' };
}

/**
 * Exit 5 when any file failed, as ONE error line naming the failures (the first three; --json lists all).
 * Files that made it stay uploaded and are skipped next time.
 */
export function failIfAnyFailed(summary: LoadSummary): void {
  const failed = summary.files.filter((file) => file.action === 'failed');
  if (failed.length === 0) return;
  const tried = failed.filter((file) => file.reason !== NOT_TRIED);
  const named = tried.slice(0, 3).map((file) => `${file.path}: ${file.reason}`);
  if (tried.length > named.length) named.push(`${tried.length - named.length} more failed`);
  if (failed.length > tried.length) named.push(`${failed.length - tried.length} not tried after that`);
  const message = summary.files.length === 1 ? named[0]! : `${failed.length} of ${summary.files.length} files failed to upload to ${summary.destination}: ${named.join('; ')}`;
  const hint = tried[0]?.error instanceof LoadError ? tried[0].error.hint : undefined;
  throw new LoadError(message, { hint: hint ?? 'uploaded files are kept and skipped next time; --json lists every file' });
}

/** The one line every run ends with, also under cron. */
export function describeSummary(summary: LoadSummary): string {
  const seconds = `${summary.seconds.toFixed(1)} s`;
  if (summary.dryRun) {
    const bytes = summary.files.reduce((sum, file) => sum + file.bytes, 0);
    return `dry run: ${summary.uploaded} would upload (${formatBytes(bytes)}), ${summary.skipped} would skip, ${summary.failed} failed; nothing sent to ${summary.destination} in ${seconds}`;
  }
  return `${summary.uploaded} uploaded, ${summary.skipped} skipped (already there), ${summary.failed} failed; ${formatBytes(summary.bytesUploaded)} to ${summary.destination} in ${seconds}`;
}

function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
