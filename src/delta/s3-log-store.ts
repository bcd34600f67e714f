import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Destination, SinkOptions } from '../load/destination.js';
import { checkRegion, describeS3Error, s3ClientConfig } from '../load/s3.js';
import type { LogStore, StoredFile } from './log-store.js';

/**
 * A table under `s3://bucket/prefix/`. createIfAbsent is a PUT with `If-None-Match: *`: since August 2024
 * Amazon S3 refuses it (412 Precondition Failed) when the key exists, so two writers cannot both create a
 * commit. A store that ignores the header (older MinIO, s3rver) would let both win: etl cannot tell, so the
 * README says to use S3 or a store that honours conditional writes.
 */
export async function openS3LogStore(destination: Destination, options: SinkOptions): Promise<LogStore> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client(s3ClientConfig(options));
  await checkRegion(client, destination.bucket);
  return new S3LogStore(client, destination);
}

class S3LogStore implements LogStore {
  readonly location: string;
  private readonly bucket: string;

  constructor(private readonly client: S3Client, private readonly destination: Destination) {
    this.bucket = destination.bucket;
    this.location = `s3://${destination.bucket}/${destination.prefix}`;
  }

  private key(relative: string): string {
    return this.destination.prefix + relative;
  }

  async read(relative: string): Promise<Buffer | null> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(relative) }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw describeS3Error(error, this.location + relative);
    }
  }

  async list(folder: string): Promise<StoredFile[]> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const prefix = this.key(folder ? `${folder.replace(/\/$/, '')}/` : '');
    const found: StoredFile[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })).catch((error: unknown) => {
        throw describeS3Error(error, this.location + folder);
      });
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        found.push({ path: object.Key.slice(this.destination.prefix.length), size: object.Size ?? 0, modified: object.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async createIfAbsent(relative: string, bytes: Uint8Array): Promise<boolean> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(relative), Body: bytes, IfNoneMatch: '*', ContentType: 'application/json' }));
      return true;
    } catch (error) {
      // 412: the key exists. 409: another conditional PUT of the key is in flight; whichever lands, this one did not.
      if (statusOf(error) === 412 || statusOf(error) === 409) return false;
      throw describeS3Error(error, this.location + relative);
    }
  }

  async put(relative: string, bytes: Uint8Array): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(relative), Body: bytes })).catch((error: unknown) => {
      throw describeS3Error(error, this.location + relative);
    });
  }

  /** One PUT (up to 5 GB): an object appears whole or not at all. */
  async putFile(relative: string, localPath: string): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { size } = await stat(localPath);
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(relative), Body: createReadStream(localPath), ContentLength: size, ContentType: 'application/vnd.apache.parquet' })).catch((error: unknown) => {
      throw describeS3Error(error, this.location + relative);
    });
  }

  async delete(relative: string): Promise<void> {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(relative) })).catch((error: unknown) => {
      throw describeS3Error(error, this.location + relative);
    });
  }

  async localCopy(relative: string, tempDir: string): Promise<string> {
    const bytes = await this.read(relative);
    if (!bytes) throw describeS3Error(Object.assign(new Error(`${this.location}${relative} is missing`), { $metadata: { httpStatusCode: 404 } }), this.location + relative);
    const local = path.join(tempDir, `${randomUUID()}${path.extname(relative)}`);
    await writeFile(local, bytes);
    return local;
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
