import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Sink, UploadRequest, LocalFile } from '../core/sink.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { checkEndpointUrl, objectUri, type Destination, type SinkOptions } from './destination.js';
import { UploadError, isNetworkFailure, isRetriableStatus } from './upload-error.js';

/** Files above one part go multipart; parts are retried one by one and at most QUEUE_SIZE are in memory. */
const S3_PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;
const MAX_PARTS = 10_000;

const CREDENTIALS_HINT = 'check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or the instance role';

/** The client's settings: endpoint (checked) and region; no request is made. */
export function s3ClientConfig(options: SinkOptions): import('@aws-sdk/client-s3').S3ClientConfig {
  // The SDK's nine-line notice about future Node 22 releases is for whoever picks SDK versions (etl's lockfile
  // does), not for etl's users; it would repeat in every cron log. Setting the variable yourself still wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  checkEndpointUrl(endpoint, options.endpoint ? '--endpoint' : 'AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL');
  return {
    region: options.region ?? (endpoint ? (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1') : undefined),
    followRegionRedirects: true,
    ...(endpoint
      ? { endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  };
}

/** The SDK would notice a missing region only at the first request, after its retries: it is a setting to fix (exit 2). */
export async function checkRegion(client: import('@aws-sdk/client-s3').S3Client, bucket: string): Promise<void> {
  await client.config.region().catch((error: unknown) => {
    client.destroy();
    throw new ConfigError(`no AWS region set for s3://${bucket}/`, { cause: error, hint: 'pass --region, set AWS_REGION, or set region in the AWS profile' });
  });
}

/**
 * The settings an S3 upload needs (endpoint, region), checked before a pipeline starts: a run must not download
 * and transform everything and then find it cannot load. No request is made and no credential is read.
 */
export async function checkS3Settings(destination: Destination, options: SinkOptions): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client(s3ClientConfig(options));
  await checkRegion(client, destination.bucket);
  client.destroy();
}

/**
 * Amazon S3 and S3-compatible stores (MinIO, R2, Ceph) through @aws-sdk/client-s3 and lib-storage, with the
 * standard credential chain and region. A custom endpoint (--endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) uses
 * path-style addressing and sends checksums only when required: with the SDK defaults, some of these stores keep
 * the aws-chunked framing inside the object.
 */
export async function createS3Sink(destination: Destination, options: SinkOptions): Promise<Sink> {
  const { S3Client, HeadObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client = new S3Client(s3ClientConfig(options));
  const Bucket = destination.bucket;
  await checkRegion(client, Bucket);

  const head = async (key: string) => {
    try {
      return await client.send(new HeadObjectCommand({ Bucket, Key: key }));
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw describeS3Error(error, objectUri(destination, key));
    }
  };

  return {
    async stat(key) {
      const stored = await head(key);
      return stored ? { size: stored.ContentLength ?? 0, sha256: stored.Metadata?.sha256 } : null;
    },

    async upload({ file, key, contentType, metadata, onProgress }: UploadRequest) {
      const uri = objectUri(destination, key);
      const partSize = Math.max(S3_PART_SIZE, Math.ceil(file.size / MAX_PARTS));
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: createReadStream(file.path), ContentType: contentType, Metadata: { ...metadata } },
        partSize,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      upload.on('httpUploadProgress', (progress) => onProgress(progress.loaded ?? 0));
      try {
        await upload.done();
      } catch (error) {
        throw describeS3Error(error, uri);
      }
      const stored = await head(key);
      const parts = Math.max(1, Math.ceil(file.size / partSize));
      const check = await compareEtag(stored?.ETag, file, partSize, Boolean(stored?.SSECustomerAlgorithm) || (stored?.ServerSideEncryption ?? '').startsWith('aws:kms'));
      if (!stored || stored.ContentLength !== file.size || stored.Metadata?.sha256 !== file.sha256 || !check.matches) {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key })).catch(() => undefined);
        throw new UploadError(`${uri} does not match ${file.path} after upload (store: ${stored?.ContentLength ?? 'no'} bytes, ETag ${stored?.ETag ?? 'none'}; local: ${file.size} bytes, expected ${check.expected}); the object was deleted`, {
          recovery: 'retry',
          hint: 'the bytes were damaged on the way: run again',
        });
      }
      return { method: parts > 1 ? 'multipart' : 'single-request', parts, verifiedWith: check.verifiedWith };
    },
  };
}

/**
 * An ETag is the md5 of the object for a single PUT, and md5(concatenated part md5s)-N for multipart on AWS and
 * MinIO (some servers give the plain md5 for both). With SSE-KMS or SSE-C it is neither: only size and sha256 metadata count.
 */
async function compareEtag(etag: string | undefined, file: LocalFile, partSize: number, encrypted: boolean): Promise<{ matches: boolean; expected: string; verifiedWith: string }> {
  const value = (etag ?? '').replaceAll('"', '');
  if (encrypted) return { matches: true, expected: 'n/a (encrypted)', verifiedWith: 'size + sha256 metadata (ETag is not an md5 under SSE-KMS/SSE-C)' };
  const multipart = /^[0-9a-f]{32}-\d+$/.test(value);
  const expected = multipart ? await multipartEtagOf(file.path, partSize) : file.md5;
  return { matches: value === expected, expected, verifiedWith: multipart ? 'multipart ETag (store)' : 'md5 ETag (store)' };
}

/** The ETag AWS and MinIO give a multipart upload: md5 of the concatenated binary md5s of the parts, then `-partCount`. */
export async function multipartEtagOf(filePath: string, partSize: number): Promise<string> {
  const ofParts = createHash('md5');
  let part = createHash('md5');
  let inPart = 0;
  let parts = 0;
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1024 * 1024 })) {
    let buffer = chunk as Buffer;
    while (buffer.length > 0) {
      const take = Math.min(partSize - inPart, buffer.length);
      part.update(buffer.subarray(0, take));
      inPart += take;
      buffer = buffer.subarray(take);
      if (inPart === partSize) {
        ofParts.update(part.digest());
        parts++;
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0) {
    ofParts.update(part.digest());
    parts++;
  }
  return `${ofParts.digest('hex')}-${parts}`;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

export function describeS3Error(error: unknown, uri: string): UploadError {
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : '';
  const message = errorMessage(error);
  const bucketUri = uri.replace(/^(s3:\/\/[^/]+).*$/, '$1');
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new UploadError(`no AWS credentials found for ${uri}`, { recovery: 'destination', cause: error, hint: CREDENTIALS_HINT });
  }
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired'].includes(name) || status === 401) {
    return new UploadError(`credentials rejected by ${bucketUri}: ${name}`, { recovery: 'destination', cause: error, hint: CREDENTIALS_HINT });
  }
  // S3 answers a HEAD without a body, so an expired session token arrives as a bare 400 (aws/aws-sdk-js#2219).
  if (status === 400 && name === 'Unknown') {
    return new UploadError(`${uri}: HTTP 400 without detail, as S3 answers a HEAD request when the session token has expired`, { recovery: 'destination', cause: error, hint: CREDENTIALS_HINT });
  }
  if (name === 'NoSuchBucket') {
    return new UploadError(`bucket ${bucketUri} does not exist`, { recovery: 'destination', cause: error, hint: 'create it (aws s3 mb) or fix --bucket / --endpoint' });
  }
  if (status === 403) {
    return new UploadError(`access denied to ${uri} (${name}): the credentials were rejected or lack permission`, { recovery: 'destination', cause: error, hint: `the credentials need s3:PutObject and s3:GetObject on the bucket; ${CREDENTIALS_HINT}` });
  }
  if (isRetriableStatus(status) || name === 'SlowDown' || (status === undefined && isNetworkFailure(error))) {
    return new UploadError(`upload to ${uri} failed: ${status ? `HTTP ${status} ` : ''}${message}`, { recovery: 'retry', cause: error, hint: 'check the network or --endpoint, then run again: finished files are skipped' });
  }
  return new UploadError(`upload to ${uri} failed: ${name ? `${name}: ` : ''}${message}`, { recovery: 'file', cause: error });
}
