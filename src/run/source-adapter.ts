import { findSource } from '../extract/index.js';
import type { ExtractReport, ExtractRequest, SourceIO, TransformRequest } from '../core/source.js';
import type { Table } from '../core/table.js';

/** What a pipeline asks of its source, whichever source it is: both requests' fields, and the source's name. */
export type SourceParams = { source: string } & ExtractRequest & Pick<TransformRequest, 'inputs' | 'datasetFile'>;

/**
 * The one place etl calls into a source: when the Source contract changes (per-source typed options),
 * only this function follows it.
 */
export async function callSource(step: 'extract', params: SourceParams, io: SourceIO): Promise<ExtractReport>;
export async function callSource(step: 'transform', params: SourceParams, io: SourceIO): Promise<Table>;
export async function callSource(step: 'extract' | 'transform', params: SourceParams, io: SourceIO): Promise<ExtractReport | Table> {
  const source = findSource(params.source);
  const common = { dataset: params.dataset, dataDir: params.dataDir, fromYear: params.fromYear, toYear: params.toYear, shard: params.shard };
  if (step === 'extract') return source.extract({ ...common, url: params.url, concurrency: params.concurrency, maxLinks: params.maxLinks }, io);
  return source.transform({ ...common, inputs: params.inputs, datasetFile: params.datasetFile }, io);
}

/** The dataset a source uses when none is named. */
export function defaultDatasetOf(sourceName: string): string {
  return findSource(sourceName).defaultDataset;
}
