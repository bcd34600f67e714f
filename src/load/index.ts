import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.js';
import type { Sink } from '../core/sink.js';

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

/** Registry: one line per destination. Each module loads its SDK only when used, so `etl --help` stays fast. */
const SINK_FACTORIES: Record<Destination['scheme'], (destination: Destination, options: SinkOptions) => Promise<Sink>> = {
  gs: async (destination, options) => (await import('./gcs.js')).createGcsSink(destination, options),
  s3: async (destination, options) => (await import('./s3.js')).createS3Sink(destination, options),
  file: async (destination) => (await import('./local.js')).createLocalSink(destination),
};

export function createSink(destination: Destination, options: SinkOptions): Promise<Sink> {
  return SINK_FACTORIES[destination.scheme](destination, options);
}

/** gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/ or a plain directory path. The prefix is a folder either way. */
export function parseDestination(bucketFlag: string): Destination {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(bucketFlag);
  if (!match) return { scheme: 'file', bucket: path.resolve(bucketFlag) + path.sep, prefix: '' };
  const scheme = match[1]!.toLowerCase();
  if (scheme === 'file') return { scheme: 'file', bucket: fileURLToPath(bucketFlag), prefix: '' };
  if (scheme !== 'gs' && scheme !== 's3') {
    throw new ConfigError(`--bucket ${bucketFlag}: unknown scheme ${scheme}://`, { hint: 'use gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/ or a directory path' });
  }
  const [bucket = '', ...rest] = match[2]!.split('/');
  if (!bucket) throw new ConfigError(`--bucket ${bucketFlag} names no bucket`, { hint: `write it as ${scheme}://bucket/prefix/` });
  const prefix = rest.filter((part) => part !== '').join('/');
  return { scheme, bucket, prefix: prefix ? prefix + '/' : '' };
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
