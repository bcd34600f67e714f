import { parseDestination, type SinkOptions } from '../load/destination.js';
import { LocalLogStore, type LogStore } from './log-store.js';

/** The store of a table at `where`: a local folder, `file://`, `s3://bucket/prefix/` or `gs://bucket/prefix/`. */
export async function openLogStore(where: string, options: SinkOptions): Promise<LogStore> {
  const destination = parseDestination(where);
  if (destination.scheme === 's3') return (await import('./s3-log-store.js')).openS3LogStore(destination, options);
  if (destination.scheme === 'gs') return (await import('./gcs-log-store.js')).openGcsLogStore(destination, options);
  return new LocalLogStore(destination.bucket);
}
