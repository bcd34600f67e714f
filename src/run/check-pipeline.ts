import { ConfigError } from '../core/errors.js';
import { isHttpUrl } from '../core/origin.js';
import { checkLoadTarget } from '../load/check-target.js';
import { findSource } from '../sources/index.js';
import type { PipelineRequest } from './pipeline.js';
import { baseUrlOf, datasetFileOf, inputsOf, instanceOf, parseSourceOptions } from './source-adapter.js';

/**
 * Every step's parameters, checked before the pipeline's first request or write: the source's own flags for
 * extract and transform (by their schemas), a declaration file, the destination, the alert webhook. `etl run`,
 * `etl plan`, `run --dry-run` and `etl cron` call this alike, so they refuse the same request with the same
 * error (a ConfigError, exit 2: nothing ran).
 */
export async function checkPipeline(request: PipelineRequest): Promise<void> {
  const { source } = request;
  const found = findSource(source.source);
  // With --input there is no extract: its flags (a token, a query) are not needed.
  if (!inputsOf(source)) {
    baseUrlOf(source);
    await parseSourceOptions(found, 'extract', source.flags);
  }
  await parseSourceOptions(found, 'transform', source.flags);
  instanceOf(source);
  const datasetFile = datasetFileOf(source);
  // Read and checked now: a bad declaration must not wait for a whole extract.
  if (datasetFile !== undefined) await (await import('../transform/layout/dataset-file.js')).loadDatasetFile(datasetFile);
  if (request.load) await checkLoadTarget(request.load);
  if (request.alert) checkAlertUrl(request.alert.url);
}

/** A webhook URL carries its token: the message never shows it. */
function checkAlertUrl(url: string): void {
  if (!isHttpUrl(url)) {
    throw new ConfigError('the alert webhook (--alert-url, ETL_ALERT_URL or alert.url) is not an http:// or https:// URL', { hint: 'write it as https://hooks.example/…' });
  }
}
