import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.js';

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
    throw new ConfigError(`--bucket ${bucketFlag}: unknown scheme ${scheme}://`, { hint: `use ${DESTINATION_FORMS}` });
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
