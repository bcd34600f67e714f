import type { HttpClient } from './http.js';
import type { Logger } from './log.js';
import type { Table } from './table.js';

/** I/O handed to a source, so tests can point it at local servers and a fixed clock. */
export interface SourceIO {
  http: HttpClient;
  log: Logger;
  now: () => Date;
}

/**
 * One of `count` machines splitting a pipeline's work units (ONS: editions) between them: this one takes the
 * units u with u mod count = index (0-based). The same units always go to the same shard.
 */
export interface Shard {
  index: number;
  count: number;
}

export function inShard(unit: number, shard: Shard | undefined): boolean {
  return shard === undefined || ((unit % shard.count) + shard.count) % shard.count === shard.index;
}

export interface ExtractRequest {
  dataset: string;
  /** Root of the data layout; raw files go under <dataDir>/raw/<source>/<dataset>/. */
  dataDir: string;
  /** Another copy of the source's page or API (a mirror, a local test server). */
  url?: string;
  fromYear?: number;
  toYear?: number;
  concurrency: number;
  /** Refuse a page listing more files than this (default 500). */
  maxLinks?: number;
  shard?: Shard;
}

export interface ExtractedFile {
  edition: number;
  file: string;
  url: string;
  status: 'downloaded' | 'unchanged' | 'failed';
  bytes: number;
  error?: string;
}

export interface ExtractReport {
  source: string;
  dataset: string;
  url: string;
  rawDir: string;
  files: ExtractedFile[];
}

export interface TransformRequest {
  dataset: string;
  dataDir: string;
  /** Workbooks given directly instead of the raw layer. */
  inputs?: readonly string[];
  /** A dataset declaration file (JSON) to use instead of the built-in dataset named by `dataset`. */
  datasetFile?: string;
  fromYear?: number;
  toYear?: number;
  shard?: Shard;
}

/** The contract a source fulfils: one file in src/extract plus one registry line. */
export interface Source {
  /** CLI id = file name = fixture folder = env prefix. */
  name: string;
  description: string;
  datasets: ReadonlyArray<{ name: string; title: string }>;
  defaultDataset: string;
  extract(request: ExtractRequest, io: SourceIO): Promise<ExtractReport>;
  /** The tidy table built from what extract stored (or from request.inputs). */
  transform(request: TransformRequest, io: SourceIO): Promise<Table>;
}
