import type { z } from 'zod';

/** The zod a schema builder is handed (core/zod.ts): it loads only when a source runs (`etl --help` stays fast). */
export type Zod = typeof import('./zod.js');
import type { HttpClient } from './http.js';
import type { Logger } from './log.js';
import type { Column, Table } from './table.js';

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

/** An environment variable a source reads (also read from a `.env` file in the working directory). */
export interface EnvVar {
  name: string;
  description: string;
  /** Never printed, logged or written anywhere. */
  secret?: boolean;
  /** The tool that defines this name (libpq's PGPASSWORD): kept as that tool spells it, so existing setups work without the source's prefix. */
  definedBy?: string;
}

/** A command-line flag that belongs to one source; shown in that source's help only. */
export interface SourceFlag {
  /** Commander syntax, e.g. `--city <id>` or `--refresh`. */
  flags: string;
  description: string;
  /** Collects repeated and comma-separated values into one list (`--city 1 --city 2,3`). */
  list?: boolean;
  /** An environment variable that gives the value when the flag is absent. */
  env?: string;
}

/**
 * A source's own flags and the schema that types and validates them, once, before the source runs. The
 * schema is built when a command needs it, from the zod it is given: a source module imports zod's types
 * only (`import type`), so loading the registry for `--help` loads no zod.
 */
export interface SourceOptions<O> {
  flags: readonly SourceFlag[];
  schema: (z: Zod) => z.ZodType<O>;
}

export interface ExtractRequest<O = unknown> {
  dataset: string;
  /** Root of the data layout; raw files go under <dataDir>/raw/<source>/<dataset>/. */
  dataDir: string;
  /** From --base-url or <SOURCE>_BASE_URL, else the source's own default. */
  baseUrl?: string;
  concurrency: number;
  /** Requests per second to any one host. */
  rateLimit: number;
  options: O;
  shard?: Shard;
}

export interface ExtractedFile {
  /** The edition year, for sources published as yearly editions. */
  edition?: number;
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

export interface TransformRequest<O = unknown> {
  dataset: string;
  dataDir: string;
  options: O;
  shard?: Shard;
}

export interface DatasetInfo {
  name: string;
  title: string;
  /** Output columns, for `etl datasets`. */
  columns: readonly Column[];
}

/** The contract a source fulfils: one file in src/sources plus one registry line. */
export interface Source<E = unknown, T = unknown> {
  /** CLI id = file name = fixture folder = env prefix. */
  name: string;
  description: string;
  /** Where the API lives; --base-url or <SOURCE>_BASE_URL point elsewhere. Absent: no --base-url flag. */
  baseUrl?: string;
  /** What a user with no network can do instead, named when a host does not resolve. */
  offline?: string;
  datasets: readonly DatasetInfo[];
  defaultDataset: string;
  /** What `--shard i/n` splits between machines (e.g. `editions`); absent: the source cannot be sharded. */
  shardsBy?: string;
  /** Environment variables the source reads, secrets included. */
  env: readonly EnvVar[];
  extractOptions: SourceOptions<E>;
  transformOptions: SourceOptions<T>;
  /**
   * Examples and notes for each stage's help (`etl extract <source> --help`, `etl transform …`); `etl run` shows
   * both. Output columns are not written here: the help lists them from `datasets`, so they cannot drift.
   */
  help: { extract: string; transform: string };
  extract(request: ExtractRequest<E>, io: SourceIO): Promise<ExtractReport>;
  /** The tidy table built from what extract stored. */
  transform(request: TransformRequest<T>, io: SourceIO): Promise<Table>;
  /**
   * For a source whose one dataset can be many things (Postgres: any table), the one these flags name, e.g.
   * `public.orders`; it joins the pipeline's name, its locks and its processed file, so pipelines of two
   * tables never share a cache, a lock or an output. Letters, digits, `_`, `$` and one inner `.`.
   */
  instanceOf?(flags: Record<string, unknown>): string | undefined;
}

/** What instanceOf may return: a file-name part that can never be a path. */
export const INSTANCE_PATTERN = /^[A-Za-z0-9_$]{1,63}(\.[A-Za-z0-9_$]{1,63})?$/;

/** A registry entry: each source's option types are its own business. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySource = Source<any, any>;

/** CLIMATEMPO, RANDOM_PERSON: the prefix of a source's environment variables. */
export function envPrefix(sourceName: string): string {
  return sourceName.toUpperCase().replace(/-/g, '_');
}
