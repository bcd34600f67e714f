import type { FileMetadata } from '@google-cloud/storage';
import type { Sink, UploadRequest } from '../core/sink.js';
import { errorMessage } from '../core/errors.js';
import { checkEndpointUrl, objectUri, type Destination, type SinkOptions } from './destination.js';
import { UploadError, isNetworkFailure, isRetriableStatus } from './upload-error.js';

/** Above this, a resumable upload session, as Google advises for large files; below, one request. */
const GCS_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

/** A request that gets no answer for this long fails (and is retried by etl); the SDK's own default is 60 s. */
const GCS_REQUEST_TIMEOUT_MS = 60_000;

const CREDENTIALS_HINT = 'check GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the VM service account';

/**
 * Google Cloud Storage through @google-cloud/storage: Application Default Credentials (the env var, gcloud's
 * login, the metadata server). `--endpoint` or STORAGE_EMULATOR_HOST point it at an emulator, which takes no credentials.
 */
export async function createGcsSink(destination: Destination, options: SinkOptions): Promise<Sink> {
  const { Storage } = await import('@google-cloud/storage');
  // The SDK reads STORAGE_EMULATOR_HOST itself; it only works with a scheme, which etl checks first.
  checkEndpointUrl(process.env.STORAGE_EMULATOR_HOST, 'STORAGE_EMULATOR_HOST');
  checkEndpointUrl(options.endpoint, '--endpoint');
  // One retry policy, etl's (load-files.ts: whole-file attempts, each wait logged as it is taken). The SDK's
  // own retries would run silently underneath, several seconds of backoff per request, so a closed port took
  // about 21 s to report and a warning's "attempt 2/3 in 0.3 s" hid 6-7 s of waiting. Off, as S3's are few.
  const retryOptions = { autoRetry: false, maxRetries: 0 };
  const storage = new Storage({ ...(options.endpoint ? { apiEndpoint: options.endpoint } : {}), retryOptions, timeout: GCS_REQUEST_TIMEOUT_MS });
  const bucket = storage.bucket(destination.bucket);

  return {
    async stat(key) {
      try {
        const [metadata] = await bucket.file(key).getMetadata();
        return { size: Number(metadata.size), sha256: metadataValue(metadata.metadata, 'sha256') };
      } catch (error) {
        if (statusOf(error) === 404) return null;
        throw describeGcsError(error, objectUri(destination, key));
      }
    },

    async upload({ file, key, contentType, metadata, onProgress }: UploadRequest) {
      const uri = objectUri(destination, key);
      const resumable = file.size > GCS_RESUMABLE_THRESHOLD;
      let stored: FileMetadata;
      try {
        const [uploaded] = await bucket.upload(file.path, {
          destination: key,
          resumable,
          // etl compares md5Hash itself below, against the digest taken before the upload started.
          validation: false,
          metadata: { contentType, metadata: { ...metadata } },
          onUploadProgress: (event: { bytesWritten?: number }) => onProgress(event.bytesWritten ?? 0),
        });
        stored = uploaded.metadata;
      } catch (error) {
        throw describeGcsError(error, uri);
      }
      // GCS computes md5Hash for every object uploaded in one piece, which is how etl uploads. The sha256 it keeps
      // must be the digest taken before the upload: the next run's skip decision rests on it.
      const md5 = Buffer.from(file.md5, 'hex').toString('base64');
      if (Number(stored.size) !== file.size || stored.md5Hash !== md5 || metadataValue(stored.metadata, 'sha256') !== file.sha256) {
        await bucket.file(key).delete({ ignoreNotFound: true }).catch(() => undefined);
        throw new UploadError(`${uri} does not match ${file.path} after upload (store: ${stored.size} bytes, md5 ${stored.md5Hash ?? 'none'}; local: ${file.size} bytes, md5 ${md5}); the object was deleted`, {
          recovery: 'retry',
          hint: 'the bytes were damaged on the way: run again',
        });
      }
      return { method: resumable ? 'resumable' : 'single-request', parts: 1, verifiedWith: 'md5 (store)' };
    },
  };
}

function metadataValue(metadata: unknown, name: string): string | undefined {
  const value = (metadata as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** ApiError carries `code`, gaxios errors `status` or `response.status`. */
function statusOf(error: unknown): number | undefined {
  const candidate = error as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const value of [candidate?.code, candidate?.status, candidate?.response?.status]) {
    if (typeof value === 'number') return value;
  }
  return undefined;
}

export function describeGcsError(error: unknown, uri: string): UploadError {
  const status = statusOf(error);
  // A resumable session URL (its upload_id) lets anyone write the object: keep query strings out of messages.
  const message = errorMessage(error).replace(/(https?:\/\/[^\s?]+)\?\S*/g, '$1');
  const bucketUri = uri.replace(/^(gs:\/\/[^/]+).*$/, '$1');
  if (/could not load the default credentials|unable to detect a project id/i.test(message)) {
    return new UploadError(`no Google credentials found for ${uri}`, { recovery: 'destination', cause: error, hint: CREDENTIALS_HINT });
  }
  if (status === 401 || /invalid_grant|invalid credentials|invalid_client/i.test(message)) {
    return new UploadError(`credentials rejected by ${bucketUri}: ${message}`, { recovery: 'destination', cause: error, hint: CREDENTIALS_HINT });
  }
  if (status === 403) {
    return new UploadError(`permission denied on ${uri}: ${message}`, { recovery: 'destination', cause: error, hint: 'the account needs storage.objects.create and storage.objects.get on the bucket' });
  }
  if (status === 404) {
    return new UploadError(`bucket ${bucketUri} does not exist`, { recovery: 'destination', cause: error, hint: 'create it (gcloud storage buckets create) or fix --bucket' });
  }
  if (isRetriableStatus(status) || (status === undefined && isNetworkFailure(error))) {
    return new UploadError(`upload to ${uri} failed: ${status ? `HTTP ${status} ` : ''}${message}`, { recovery: 'retry', cause: error, hint: 'check the network or --endpoint, then run again: finished files are skipped' });
  }
  return new UploadError(`upload to ${uri} failed: ${message}`, { recovery: 'file', cause: error });
}
