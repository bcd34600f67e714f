import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.js';
import { checkPostgresUrl, isPostgresUrl } from '../core/postgres.js';
import { DEFAULT_KEY_TEMPLATE } from './object-key.js';
import { postgresTarget } from './postgres-target.js';

/** Where `--bucket` points: a bucket (or directory) and a key prefix ending in `/` (or empty). */
export interface Destination {
  scheme: 'gs' | 's3' | 'file';
  /** Bucket name, or the absolute directory for file://. */
  bucket: string;
  prefix: string;
}

export interface SinkOptions {
  /** An emulator or S3-compatible store instead of the cloud's own endpoint. */
  endpoint: string | undefined;
  region: string | undefined;
}

const DESTINATION_FORMS = 'gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/, or a local path that starts with /, ./ or ../';

/**
 * gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/ or a local path written as one (absolute, `./`, `../`).
 * The prefix is a folder either way. Anything else is refused rather than guessed: a mistyped scheme
 * (`gs:/b/`, `s3//b/`) or a bucket name without one would otherwise become a local folder, and a cron job would
 * report a successful upload while nothing reached the cloud.
 */
export function parseDestination(bucketFlag: string): Destination {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(bucketFlag);
  if (!match) return { scheme: 'file', bucket: localDirectory(bucketFlag), prefix: '' };
  const scheme = match[1]!.toLowerCase();
  if (scheme === 'file') return { scheme: 'file', bucket: fileUrlDirectory(bucketFlag), prefix: '' };
  if (scheme !== 'gs' && scheme !== 's3') {
    // Never echo a postgres URL: it may hold a password.
    if (isPostgresUrl(bucketFlag)) throw new ConfigError('--bucket takes object stores and folders; a Postgres table goes with --to', { hint: 'write --to postgres://user@host/db --table schema.table' });
    throw new ConfigError(`--bucket ${bucketFlag}: unknown scheme ${scheme}://`, { hint: `use ${DESTINATION_FORMS}, or --to postgres://… for a table` });
  }
  const [bucket = '', ...rest] = match[2]!.split('/');
  if (!bucket) throw new ConfigError(`--bucket ${bucketFlag} names no bucket`, { hint: `write it as ${scheme}://bucket/prefix/` });
  checkBucketName(scheme, bucket, bucketFlag);
  const prefix = rest.filter((part) => part !== '').join('/');
  return { scheme, bucket, prefix: prefix ? prefix + '/' : '' };
}

/**
 * A name no store accepts (a space, `@`, `:`; capitals on GCS) would otherwise cost every retry of every file
 * before failing as a load error. Only characters are checked: S3's legacy buckets and S3-compatible stores allow
 * capitals, underscores and short names.
 */
function checkBucketName(scheme: 'gs' | 's3', bucket: string, bucketFlag: string): void {
  const invalid = /[^A-Za-z0-9._-]/.exec(bucket);
  if (invalid) {
    throw new ConfigError(`--bucket ${bucketFlag}: ${JSON.stringify(invalid[0])} cannot be part of a bucket name ("${bucket}")`, {
      hint: `bucket names hold letters, digits, '.', '-' and '_' only; write it as ${scheme}://bucket/prefix/`,
    });
  }
  if (scheme === 'gs' && bucket !== bucket.toLowerCase()) {
    throw new ConfigError(`--bucket ${bucketFlag}: Cloud Storage bucket names are lower case ("${bucket}")`, { hint: `did you mean ${bucketFlag.replace(bucket, bucket.toLowerCase())}?` });
  }
}

/** A local directory must look like a path; `gs:/b`, `s3//b` and a bare `my-bucket/ons` are refused with the likely fix. */
function localDirectory(flag: string): string {
  if (path.isAbsolute(flag) || /^\.\.?([/\\]|$)/.test(flag)) return path.resolve(flag) + path.sep;
  const schemeTypo = /^([a-z][a-z0-9+.-]*)(:\/?|\/\/)(.*)$/i.exec(flag);
  if (schemeTypo) {
    const [, scheme = '', , rest = ''] = schemeTypo;
    const known = ['gs', 's3', 'file'].includes(scheme.toLowerCase());
    const fix = scheme.toLowerCase() === 'file' ? `file:///${rest.replace(/^\/+/, '')}` : `${scheme.toLowerCase()}://${rest.replace(/^\/+/, '')}`;
    if (known || flag.includes(':')) {
      throw new ConfigError(`--bucket ${flag} looks like a mistyped URL`, { hint: known ? `did you mean ${fix}?` : `use ${DESTINATION_FORMS}` });
    }
  }
  throw new ConfigError(`--bucket ${flag} is neither a bucket URL nor a local path`, {
    // An absolute path never gets here, so the flag does not start with a slash.
    hint: `for a bucket write gs://${flag} or s3://${flag}; for a local folder write ./${flag}`,
  });
}

function fileUrlDirectory(flag: string): string {
  try {
    return fileURLToPath(flag);
  } catch {
    throw new ConfigError(`--bucket ${flag} is not a local file URL`, { hint: 'write file:///absolute/dir/ (three slashes), or a path such as ./dir/' });
  }
}

/** The URI a user would type for an object, for messages and --json. */
export function objectUri(destination: Destination, key: string): string {
  if (destination.scheme === 'file') return pathToFileURL(path.join(destination.bucket, key)).href;
  return `${destination.scheme}://${destination.bucket}/${key}`;
}

/** SDKs fail late and vaguely on `host:port`; say so up front. */
export function checkEndpointUrl(endpoint: string | undefined, setBy: string): void {
  if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) {
    throw new ConfigError(`${setBy} ${endpoint} is not an http:// or https:// URL`, { hint: `write it as http://${endpoint.replace(/^[a-z]+:\/\//i, '')} (emulators and local stores usually speak plain http)` });
  }
}

/**
 * `--to` is the destination in `etl load` and the pipeline commands, where ONS and Supermetrics also take `--to`
 * as the end of their range: a value written as a URL or a path is the destination, anything else (a year, a
 * date) the range's end.
 */
export function splitToFlag(values: unknown): { destination?: string; rangeEnd?: string } {
  const given = (Array.isArray(values) ? values : values === undefined ? [] : [values]).map(String);
  const looksLikeDestination = (value: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^(\/|\.\.?([/\\]|$))/.test(value);
  const destinations = given.filter(looksLikeDestination);
  const ends = given.filter((value) => !looksLikeDestination(value));
  if (destinations.length > 1) throw new ConfigError('--to names two destinations', { hint: 'give one --to destination (and at most one --to for the end of a range)' });
  if (ends.length > 1) throw new ConfigError(`--to ${ends.join(' and --to ')}: two ends of one range`, { hint: 'give one' });
  return { destination: destinations[0], rangeEnd: ends[0] };
}

export interface DestinationFlags {
  bucket?: unknown;
  to?: unknown;
  table?: unknown;
  mode?: unknown;
  key?: unknown;
  partitionBy?: unknown;
  url?: unknown;
}

/**
 * Every destination flag checked before any work starts (a mistyped destination must not cost a whole extract
 * first), and a Postgres URL holding a password refused before anything is printed or recorded.
 */
export function checkDestinationFlags(flags: DestinationFlags): void {
  if (typeof flags.url === 'string' && isPostgresUrl(flags.url)) checkPostgresUrl(flags.url, '--url');
  const { destination } = splitToFlag(flags.to);
  if (destination !== undefined && typeof flags.bucket === 'string') throw new ConfigError('--to and --bucket both name a destination', { hint: 'give one of them' });
  const where = destination ?? (typeof flags.bucket === 'string' ? flags.bucket : undefined);
  if (where === undefined) return;
  if (!isPostgresUrl(where)) {
    parseDestination(where);
    // --table alone may be the Postgres source's own flag; --mode belongs to a table destination only.
    if (typeof flags.mode === 'string') throw new ConfigError('--mode goes with --to postgres://…', { hint: 'drop --mode, or load into a table with --to postgres://user@host/db --table schema.table' });
    return;
  }
  checkPostgresUrl(where, '--to');
  const key = mergeKeyFlag(typeof flags.key === 'string' ? flags.key : undefined);
  const mode = typeof flags.mode === 'string' ? flags.mode : undefined;
  if (flags.partitionBy !== undefined && mode !== undefined && mode !== 'replace') {
    throw new ConfigError(`--partition-by loads partition by partition (replacing those that changed): --mode ${mode} does not apply`, { hint: 'drop --mode, or drop --partition-by' });
  }
  postgresTarget(where, typeof flags.table === 'string' ? flags.table : undefined, mode, key);
}

/** The merge key from --key: its default is the object-key template, which means "not given" for a table. */
export function mergeKeyFlag(key: string | undefined): string | undefined {
  return key === undefined || key === DEFAULT_KEY_TEMPLATE ? undefined : key;
}
