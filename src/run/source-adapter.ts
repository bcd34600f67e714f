import { Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { isHttpUrl } from '../core/origin.js';
import { redact } from '../core/redact.js';
import { INSTANCE_PATTERN, envPrefix, type AnySource, type ExtractReport, type Shard, type SourceIO } from '../core/source.js';
import type { Table } from '../core/table.js';
import { findSource } from '../sources/index.js';

/** What a pipeline asks of its source, whichever source it is. */
export interface SourceParams {
  source: string;
  dataset: string;
  dataDir: string;
  /** --base-url; else <SOURCE>_BASE_URL; else the source's own. */
  baseUrl?: string;
  concurrency: number;
  /** Requests per second to any one host. */
  rateLimit: number;
  shard?: Shard;
  /** The source's own flags as given (e.g. ONS --url, --input; climatempo --city); typed by its schema here. */
  flags: Record<string, unknown>;
}

/**
 * The one place etl calls into a source: each source's own flags are validated by its schema, once, here.
 */
export async function callSource(step: 'extract', params: SourceParams, io: SourceIO): Promise<ExtractReport>;
export async function callSource(step: 'transform', params: SourceParams, io: SourceIO): Promise<Table>;
export async function callSource(step: 'extract' | 'transform', params: SourceParams, io: SourceIO): Promise<ExtractReport | Table> {
  const source = findSource(params.source);
  const options = await parseSourceOptions(source, step, params.flags);
  const common = { dataset: params.dataset, dataDir: params.dataDir, shard: params.shard, options };
  if (step === 'transform') return source.transform(common, io);
  return source.extract({ ...common, baseUrl: baseUrlOf(params), concurrency: params.concurrency, rateLimit: params.rateLimit }, io);
}

/**
 * Where the source's API lives: --base-url (or a config's base_url), else <SOURCE>_BASE_URL, else the source's own.
 * Anything but an absolute http(s) URL is a usage error naming the flag or variable it came from.
 */
export function baseUrlOf(params: Pick<SourceParams, 'source' | 'baseUrl'>): string | undefined {
  const source = findSource(params.source);
  const variable = `${envPrefix(source.name)}_BASE_URL`;
  const fromEnv = process.env[variable];
  const value = params.baseUrl ?? fromEnv ?? source.baseUrl;
  if (value === undefined || isHttpUrl(value)) return value;
  // `etl extract` reads the variable through its --base-url flag: a value equal to the variable's is named by it.
  const setBy = params.baseUrl === undefined || params.baseUrl === fromEnv ? variable : '--base-url';
  throw new ConfigError(`${setBy} ${JSON.stringify(redact(value).slice(0, 200))} is not an absolute http:// or https:// URL`, {
    hint: `write it with its scheme, e.g. ${source.baseUrl ?? 'https://api.example.com'}`,
  });
}

/** Types and validates a source's own flags with its schema (zod loads here, not at start-up); a ConfigError names the flag. */
export async function parseSourceOptions<O>(source: AnySource, which: 'extract' | 'transform', flags: Record<string, unknown>): Promise<O> {
  const z = await import('../core/zod.js');
  const { ZodError } = z;
  const declared = which === 'extract' ? source.extractOptions : source.transformOptions;
  const given: Record<string, unknown> = {};
  for (const flag of declared.flags) {
    const key = new Option(flag.flags).attributeName();
    if (flags[key] !== undefined) given[key] = flags[key];
  }
  try {
    return declared.schema(z).parse(given) as O;
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    const issue = error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const flag = declared.flags.find((f) => new Option(f.flags).attributeName() === key);
    const where = !flag ? `${source.name} options are invalid` : given[key] === undefined ? `option '${flag.flags}' is required` : `option '${flag.flags}' argument ${JSON.stringify(given[key])} is invalid`;
    throw new ConfigError(`${where}: ${issue.message}`, { hint: `run etl ${which} ${source.name} --help for usage` });
  }
}

/** The dataset a source uses when none is named. */
export function defaultDatasetOf(sourceName: string): string {
  return findSource(sourceName).defaultDataset;
}

/** Files given with --input (read where they are: no extract). */
export function inputsOf(params: SourceParams): string[] | undefined {
  const input = params.flags.input;
  return Array.isArray(input) && input.length > 0 ? input.map(String) : undefined;
}

/** A dataset declaration file given with --dataset-file. */
export function datasetFileOf(params: SourceParams): string | undefined {
  return typeof params.flags.datasetFile === 'string' ? params.flags.datasetFile : undefined;
}

/** The one table (say) of a many-things dataset these params name, checked so it can only ever be a file-name part; see Source.instanceOf. */
export function instanceOf(params: Pick<SourceParams, 'source' | 'flags'>): string | undefined {
  const instance = findSource(params.source).instanceOf?.(params.flags);
  if (instance !== undefined && !INSTANCE_PATTERN.test(instance)) throw new ConfigError(`${params.source}: ${JSON.stringify(instance)} cannot name a file`);
  return instance;
}
