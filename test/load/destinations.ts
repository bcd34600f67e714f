import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { startFaultProxy, type Fault, type FaultProxy } from './servers/fault-proxy.js';
import { S3RVER_CREDENTIALS, startS3Server } from './servers/s3-server.js';
import { gcsEmulatorInstalled, startGcsEmulator } from './servers/gcs-emulator.js';

/** What the contract suite needs from one destination: how users point etl at it, and a way to read back. */
export interface DestinationUnderTest {
  /** `--bucket` for a fresh prefix. */
  bucket(prefix: string): string;
  /** Flags and environment a user of this destination would set (endpoint, credentials). */
  flags: string[];
  env: Record<string, string>;
  /** Between etl and a network store; undefined for the local destination, which has no connection to break. */
  proxy: FaultProxy | undefined;
  /** Reads an object back with the store's own client, not with etl's code. */
  read(prefix: string, key: string): Promise<StoredCopy | null>;
  /** Writes an object with the store's own client, as another tool would: no etl metadata. */
  put(prefix: string, key: string, body: string): Promise<void>;
  /** A `--bucket` that cannot be written: a bucket that does not exist, or a path below a plain file. */
  missingBucket: string;
  /** How this store is made to reject credentials, or undefined where there are none (local). */
  rejectedCredentials: { env: Record<string, string>; faults: Fault[] } | undefined;
  stop(): Promise<void>;
}

export interface StoredCopy {
  body: Buffer;
  /** etl's metadata (sha256, source, etl_version); empty for local files, which have none. */
  metadata: Record<string, string>;
  contentType: string | undefined;
}

export interface DestinationFactory {
  name: 'local' | 's3' | 'gcs';
  /** Why this destination cannot be tested here, or undefined when it can. */
  unavailable: string | undefined;
  start(): Promise<DestinationUnderTest>;
}

const BUCKET = 'etl-test';

export const localDestination: DestinationFactory = {
  name: 'local',
  unavailable: undefined,
  async start() {
    const root = await mkdtemp(path.join(tmpdir(), 'etl-lake-'));
    const plainFile = path.join(root, 'not-a-directory');
    await writeFile(plainFile, 'x');
    return {
      bucket: (prefix) => pathToFileURL(path.join(root, prefix)).href + '/',
      flags: [],
      env: {},
      proxy: undefined,
      async read(prefix, key) {
        const body = await readFile(path.join(root, prefix, key)).catch(() => null);
        return body && { body, metadata: {}, contentType: undefined };
      },
      async put(prefix, key, body) {
        await mkdir(path.dirname(path.join(root, prefix, key)), { recursive: true });
        await writeFile(path.join(root, prefix, key), body);
      },
      missingBucket: pathToFileURL(path.join(plainFile, 'lake')).href + '/',
      rejectedCredentials: undefined,
      stop: () => rm(root, { recursive: true, force: true }),
    };
  },
};

export const s3Destination: DestinationFactory = {
  name: 's3',
  unavailable: undefined,
  async start() {
    const server = await startS3Server([BUCKET]);
    const proxy = await startFaultProxy(server.url);
    const reader = new S3Client({ endpoint: server.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    return {
      bucket: (prefix) => `s3://${BUCKET}/${prefix}`,
      flags: ['--endpoint', proxy.url],
      // No instance-metadata probing from tests: that would be traffic off the loopback.
      env: { ...S3RVER_CREDENTIALS, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' },
      proxy,
      async read(prefix, key) {
        try {
          const object = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: prefix + key }));
          return { body: Buffer.from(await object.Body!.transformToByteArray()), metadata: object.Metadata ?? {}, contentType: object.ContentType };
        } catch (error) {
          if ((error as { name?: string }).name === 'NoSuchKey') return null;
          throw error;
        }
      },
      async put(prefix, key, body) {
        await reader.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + key, Body: body }));
      },
      missingBucket: 's3://etl-no-such-bucket/ons/',
      // s3rver rejects unknown access key ids as AWS does (InvalidAccessKeyId, 403).
      rejectedCredentials: { env: { AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG', AWS_SECRET_ACCESS_KEY: 'never-printed-secret-value' }, faults: [] },
      async stop() {
        reader.destroy();
        await proxy.stop();
        await server.stop();
      },
    };
  },
};

/** GCS's JSON error shape, for what the emulator cannot do itself: it has no auth and creates buckets on first use. */
const gcsError = (status: number, message: string) => ({ kind: 'respond' as const, status, body: JSON.stringify({ error: { code: status, message, errors: [{ message }] } }) });

export const gcsDestination: DestinationFactory = {
  name: 'gcs',
  unavailable: gcsEmulatorInstalled() ? undefined : 'GCS emulator not installed: run `npm run install-gcs-emulator` (CI does)',
  async start() {
    const emulator = await startGcsEmulator();
    const proxy = await startFaultProxy(emulator.url);
    proxy.addFault({ matches: (request) => request.url.includes('/b/etl-no-such-bucket/'), action: gcsError(404, 'The specified bucket does not exist.'), times: Infinity });
    const reader = new Storage({ apiEndpoint: emulator.url, projectId: 'etl-test' }).bucket(BUCKET);
    return {
      bucket: (prefix) => `gs://${BUCKET}/${prefix}`,
      flags: ['--endpoint', proxy.url],
      // Keep google-auth-library from looking for a metadata server: that would be traffic off the loopback.
      env: { METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'etl-test' },
      proxy,
      async read(prefix, key) {
        const file = reader.file(prefix + key);
        const [exists] = await file.exists();
        if (!exists) return null;
        const [[body], [metadata]] = await Promise.all([file.download(), file.getMetadata()]);
        return { body, metadata: (metadata.metadata ?? {}) as Record<string, string>, contentType: metadata.contentType };
      },
      async put(prefix, key, body) {
        await reader.file(prefix + key).save(body);
      },
      missingBucket: 'gs://etl-no-such-bucket/ons/',
      rejectedCredentials: { env: {}, faults: [{ matches: () => true, action: gcsError(401, 'Invalid Credentials'), times: Infinity }] },
      async stop() {
        await proxy.stop();
        await emulator.stop();
      },
    };
  },
};
