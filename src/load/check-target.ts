import { checkPostgresUrl, isPostgresUrl } from '../core/postgres.js';
import { checkEndpointUrl, parseDestination, type SinkOptions } from './destination.js';
import { checkKeyTemplate } from './object-key.js';
import { postgresTarget } from './postgres-target.js';

/** Where a pipeline's load step goes, as a run carries it (LoadParams without the run's own switches). */
export interface LoadTarget {
  bucket: string;
  keyTemplate: string;
  sink: SinkOptions;
  table?: string;
  mode?: string;
  mergeKey?: string;
}

/**
 * Everything about a destination that can be known without a request: its form, the key template, a table's
 * flags, an endpoint's form, S3's region. Called before a pipeline's first request, so a destination that cannot
 * be written costs no extract and no transform (a ConfigError, exit 2). A Postgres URL is never echoed.
 */
export async function checkLoadTarget(target: LoadTarget): Promise<void> {
  if (isPostgresUrl(target.bucket)) {
    checkPostgresUrl(target.bucket, '--to');
    postgresTarget(target.bucket, target.table, target.mode, target.mergeKey);
    return;
  }
  const destination = parseDestination(target.bucket);
  checkKeyTemplate(target.keyTemplate);
  if (destination.scheme === 'gs') {
    checkEndpointUrl(process.env.STORAGE_EMULATOR_HOST, 'STORAGE_EMULATOR_HOST');
    checkEndpointUrl(target.sink.endpoint, '--endpoint');
  } else if (destination.scheme === 's3') {
    await (await import('./s3.js')).checkS3Settings(destination, target.sink);
  }
}
