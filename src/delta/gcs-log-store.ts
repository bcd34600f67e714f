import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Bucket } from '@google-cloud/storage';
import { LoadError } from '../core/errors.js';
import { checkEndpointUrl, type Destination, type SinkOptions } from '../load/destination.js';
import { describeGcsError } from '../load/gcs.js';
import type { LogStore, StoredFile } from './log-store.js';

/**
 * A table under `gs://bucket/prefix/`. createIfAbsent is an upload with `ifGenerationMatch: 0`, which
 * Cloud Storage refuses (412) when any live object has the name: of two writers, one creates the commit.
 */
export async function openGcsLogStore(destination: Destination, options: SinkOptions): Promise<LogStore> {
  const { Storage } = await import('@google-cloud/storage');
  checkEndpointUrl(process.env.STORAGE_EMULATOR_HOST, 'STORAGE_EMULATOR_HOST');
  checkEndpointUrl(options.endpoint, '--endpoint');
  // etl's own retries only, as for uploads (src/load/gcs.ts): a conditional create must not be retried blindly.
  const storage = new Storage({ ...(options.endpoint ? { apiEndpoint: options.endpoint } : {}), retryOptions: { autoRetry: false, maxRetries: 0 }, timeout: 60_000 });
  return new GcsLogStore(storage.bucket(destination.bucket), destination);
}

class GcsLogStore implements LogStore {
  readonly location: string;

  constructor(private readonly bucket: Bucket, private readonly destination: Destination) {
    this.location = `gs://${destination.bucket}/${destination.prefix}`;
  }

  private key(relative: string): string {
    return this.destination.prefix + relative;
  }

  async read(relative: string): Promise<Buffer | null> {
    try {
      const [bytes] = await this.bucket.file(this.key(relative)).download();
      return bytes;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw describeGcsError(error, this.location + relative);
    }
  }

  async list(folder: string): Promise<StoredFile[]> {
    const prefix = this.key(folder ? `${folder.replace(/\/$/, '')}/` : '');
    try {
      const [files] = await this.bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((file) => ({ path: file.name.slice(this.destination.prefix.length), size: Number(file.metadata.size ?? 0), modified: Date.parse(String(file.metadata.updated ?? file.metadata.timeCreated ?? 0)) || 0 }));
    } catch (error) {
      throw describeGcsError(error, this.location + folder);
    }
  }

  async createIfAbsent(relative: string, bytes: Uint8Array): Promise<boolean> {
    try {
      await this.bucket.file(this.key(relative)).save(Buffer.from(bytes), { resumable: false, validation: false, contentType: 'application/json', preconditionOpts: { ifGenerationMatch: 0 } });
      return true;
    } catch (error) {
      if (statusOf(error) === 412) return false;
      throw describeGcsError(error, this.location + relative);
    }
  }

  async put(relative: string, bytes: Uint8Array): Promise<void> {
    await this.bucket.file(this.key(relative)).save(Buffer.from(bytes), { resumable: false, validation: false }).catch((error: unknown) => {
      throw describeGcsError(error, this.location + relative);
    });
  }

  async putFile(relative: string, localPath: string): Promise<void> {
    await this.bucket.upload(localPath, { destination: this.key(relative), resumable: false, validation: 'md5', contentType: 'application/vnd.apache.parquet' }).catch((error: unknown) => {
      throw describeGcsError(error, this.location + relative);
    });
  }

  async delete(relative: string): Promise<void> {
    await this.bucket.file(this.key(relative)).delete({ ignoreNotFound: true }).catch((error: unknown) => {
      throw describeGcsError(error, this.location + relative);
    });
  }

  async localCopy(relative: string, tempDir: string): Promise<string> {
    const local = path.join(tempDir, `${randomUUID()}${path.extname(relative)}`);
    try {
      await this.bucket.file(this.key(relative)).download({ destination: local });
    } catch (error) {
      if (statusOf(error) === 404) throw new LoadError(`${this.location}${relative} is listed in the Delta log but missing from the bucket`, { hint: 'the table is damaged: a file was deleted outside etl' });
      throw describeGcsError(error, this.location + relative);
    }
    return local;
  }
}

function statusOf(error: unknown): number | undefined {
  const candidate = error as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const value of [candidate?.code, candidate?.status, candidate?.response?.status]) if (typeof value === 'number') return value;
  return undefined;
}
