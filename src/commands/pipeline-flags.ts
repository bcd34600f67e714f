import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { checkIdentifier } from '../core/names.js';
import { readConfigFile, resolveParams, snakeCase, substitute, type PipelineConfig } from '../run/config.js';
import type { Shard } from '../core/source.js';
import type { PipelineRequest } from '../run/pipeline.js';
import { isPostgresUrl } from '../core/postgres.js';
import { mergeKeyFlag, splitToFlag } from '../load/destination.js';
import { findSource, sources } from '../sources/index.js';
import { parseFormat, parseMergeKey } from '../delta/options.js';
import { defaultDatasetOf } from '../run/source-adapter.js';
import { checkTimerSeconds, dataDirOption, fetchOptions, loadOptions, parseCount, parseSeconds, transformOptions, type LoadFlags, type TransformFlags } from './options.js';
import { checkDataset, flagOption, sourceFlagOwners, type FetchFlags } from './source-command.js';

/** `run`, `plan` and `cron` accept every flag of extract, transform and load, plus the pipeline's own. */
export interface PipelineFlags extends FetchFlags, TransformFlags, LoadFlags {
  /** Each source's own flags (ONS --url, --input; climatempo --city; …): only the pipeline's source may be given any. */
  [sourceFlag: string]: unknown;
  /** commander's negation of --no-cache. */
  cache: boolean;
  stepRetries: number;
  stepTimeout?: number;
  alertUrl?: string;
  alertOnSuccess: boolean;
  config?: string;
  param: string[];
  shard?: Shard;
}

export function addPipelineOptions(command: Command): Command {
  command
    .argument('[source]', 'e.g. ons; with --config, the pipeline name (default: the only one in the file)')
    .argument('[dataset]', 'e.g. monthly-deaths (the default for ons)')
    .addOption(new Option('--config <file>', 'pipelines declared in a YAML or JSON file (schema: etl.config.schema.json, or `etl schema`)'))
    .addOption(new Option('--param <name=value>', 'with --config: a parameter of the pipeline (repeatable)').argParser((value: string, previous: string[]) => [...previous, value]).default([]))
    .addOption(dataDirOption());
  const own = [
    new Option('--no-cache', 'run every step even when its inputs are unchanged since its last successful run'),
    new Option('--step-retries <n>', 'extra attempts of a whole step after a failure that may pass next time (network, store)').argParser(parseCount).default(0),
    new Option('--step-timeout <seconds>', "stop the run when a step takes longer than this, retries included; it exits with that step's code").argParser(parseSeconds),
    new Option('--alert-url <url>', 'POST a JSON summary here when the run fails').env('ETL_ALERT_URL'),
    new Option('--alert-on-success', 'also alert when the run succeeds').default(false),
    new Option('--shard <i/n>', 'run shard i of n (0-based; default from CLOUD_RUN_TASK_INDEX/COUNT, or JOB_COMPLETION_INDEX with ETL_SHARD_COUNT): only its work units (ONS editions, ClimaTempo cities, Supermetrics chunks); needs --partition-by').argParser(parseShard),
  ];
  // Before the sources' own --to (a range's end), so this one, which takes both, is the one added.
  const seen = new Set<string>(['--to']);
  command.addOption(new Option('--to <destination|end>', 'the destination (what --bucket takes, or postgres://user@host/db with --table); ons, supermetrics: also the end of the range').argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]));
  const sourceOptions = sources.flatMap((source) => [...source.extractOptions.flags, ...source.transformOptions.flags]).map(flagOption);
  const baseUrl = new Option('--base-url <url>', "where the source's API lives (default: <SOURCE>_BASE_URL, else the source's own)");
  for (const option of [...sourceOptions, baseUrl, ...fetchOptions(), ...transformOptions(), ...loadOptions(), ...own]) {
    if (seen.has(option.long!)) continue; // a flag several sources declare (--from, --to) is added once
    seen.add(option.long!);
    command.addOption(option);
  }
  return command;
}

const SOURCE_FLAG_ATTRIBUTES = new Set(sources.flatMap((source) => [...source.extractOptions.flags, ...source.transformOptions.flags]).map((flag) => new Option(flag.flags).attributeName()));

/** Flag attribute for each config field; what the command line gives explicitly wins over the file. */
const CONFIG_TO_FLAG: Record<string, string> = {
  url: 'url', base_url: 'baseUrl', from: 'from', to: 'to', concurrency: 'concurrency', timeout: 'timeout', download_timeout: 'downloadTimeout', retries: 'retries', max_links: 'maxLinks', input: 'input',
  dataset_file: 'datasetFile', out: 'out', skip_bad: 'skipBad', partition_by: 'partitionBy', format: 'format', merge_key: 'mergeKey', bucket: 'bucket', key: 'key', endpoint: 'endpoint', region: 'region',
  ...Object.fromEntries([...SOURCE_FLAG_ATTRIBUTES].map((attribute) => [snakeCase(attribute), attribute])),
};

export async function pipelineRequest(first: string | undefined, second: string | undefined, givenFlags: PipelineFlags, givenCommand: Command): Promise<PipelineRequest> {
  // --to arrives as a list: a destination and/or the end of a source's range (see splitToFlag).
  const { destination, rangeEnd } = splitToFlag(givenFlags.to);
  const flags: PipelineFlags = { ...givenFlags, to: rangeEnd, bucket: destination ?? givenFlags.bucket };
  const command = { getOptionValueSource: (attribute: string) => (attribute === 'to' && rangeEnd === undefined ? undefined : givenCommand.getOptionValueSource(attribute)) } as Command;
  if (!flags.config) {
    if (!first) throw new ConfigError('name a source (e.g. `etl run ons`) or give --config FILE', { hint: 'etl run --help lists both ways' });
    if (flags.param.length > 0) throw new ConfigError('--param needs --config: parameters are declared by a pipeline in a config file');
    const dataset = second ?? defaultDatasetOf(first);
    // Two tables of the postgres source are two pipelines: their own cache, lock and run history.
    const instance = findSource(first).instanceOf?.(flags as unknown as Record<string, unknown>);
    return requestFrom(instance ? `${first}/${dataset}/${instance}` : `${first}/${dataset}`, first, dataset, flags, { extract: flags.stepRetries, transform: flags.stepRetries, load: flags.stepRetries }, { extract: flags.stepTimeout, transform: flags.stepTimeout, load: flags.stepTimeout }, (attribute) => command.getOptionValueSource(attribute) === 'cli');
  }
  if (second !== undefined) throw new ConfigError(`with --config, name one pipeline (got "${first}" and "${second}")`);
  const config = await readConfigFile(flags.config);
  const pipeline = pickPipeline(config.pipelines, first, flags.config);
  const values = resolveParams(pipeline, flags.param, flags.config);
  const fromFile = {
    ...substitute(pipeline.options, values, `pipelines.${pipeline.name}.options`, flags.config),
    ...(pipeline.destination ? substitute(pipeline.destination, values, `pipelines.${pipeline.name}.destination`, flags.config) : {}),
  };
  const fromCommandLine = (attribute: string): boolean => command.getOptionValueSource(attribute) === 'cli';
  const merged: Record<string, unknown> = { ...flags };
  const fromFileFlags: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fromFile)) {
    const attribute = CONFIG_TO_FLAG[field]!;
    // A source's own flags arrive as text from the command line; its schema parses both alike.
    if (!fromCommandLine(attribute)) merged[attribute] = fromFileFlags[attribute] = typeof value === 'number' && SOURCE_FLAG_ATTRIBUTES.has(attribute) ? String(value) : value;
  }
  if (pipeline.dataDir && !fromCommandLine('dataDir')) merged.dataDir = pipeline.dataDir;
  if (pipeline.alert && !fromCommandLine('alertUrl')) Object.assign(merged, { alertUrl: pipeline.alert.url, alertOnSuccess: pipeline.alert.onSuccess || flags.alertOnSuccess });
  const retries = (step: 'extract' | 'transform' | 'load'): number => (fromCommandLine('stepRetries') ? flags.stepRetries : (pipeline.stepRetries[step] ?? flags.stepRetries));
  const timeout = (step: 'extract' | 'transform' | 'load'): number | undefined => (fromCommandLine('stepTimeout') ? flags.stepTimeout : (pipeline.stepTimeouts[step] ?? flags.stepTimeout));
  const dataset = pipeline.dataset ?? defaultDatasetOf(pipeline.source);
  const request = requestFrom(pipeline.name, pipeline.source, dataset, merged as unknown as PipelineFlags, { extract: retries('extract'), transform: retries('transform'), load: retries('load') }, { extract: timeout('extract'), transform: timeout('transform'), load: timeout('load') }, (attribute) => fromCommandLine(attribute) || attribute in fromFileFlags);
  // Checked here too (run and plan check again), so that a value from the file is named by its field, not by a flag.
  const { checkPipeline } = await import('../run/check-pipeline.js');
  await checkPipeline(request).catch((error: unknown) => {
    throw namedByField(error, flags.config!, pipeline, Object.keys(fromFile).filter((field) => CONFIG_TO_FLAG[field]! in fromFileFlags));
  });
  return request;
}

/** A ConfigError from checking a pipeline of a config file names the file and the pipeline, and the field when the flag named came from the file. */
function namedByField(error: unknown, file: string, pipeline: PipelineConfig, fieldsFromFile: string[]): unknown {
  if (!(error instanceof ConfigError)) return error;
  const field = fieldsFromFile.find((name) => {
    const flag = `--${CONFIG_TO_FLAG[name]!.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    return [flag, ...(name === 'bucket' ? ['--to'] : [])].some((given) => new RegExp(`^(option ')?${given}\\b`).test(error.message));
  });
  const section = field === undefined ? '' : pipeline.destination && field in pipeline.destination ? `.destination.${field}` : `.options.${field}`;
  return new ConfigError(`${file}: pipelines.${pipeline.name}${section}: ${error.message}`, { hint: error.hint, cause: error.cause });
}

function pickPipeline(pipelines: PipelineConfig[], name: string | undefined, file: string): PipelineConfig {
  const names = pipelines.map((p) => p.name).join(', ');
  if (name === undefined) {
    if (pipelines.length === 1) return pipelines[0]!;
    throw new ConfigError(`${file} declares several pipelines: ${names}`, { hint: `name one, e.g. \`etl run --config ${file} ${pipelines[0]!.name}\`` });
  }
  const found = pipelines.find((p) => p.name === name);
  if (!found) throw new ConfigError(`${file} declares no pipeline "${name}"`, { hint: `choose one of: ${names}` });
  return found;
}

function parseShard(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(count >= 1 && index < count)) throw new InvalidArgumentError('expected i/n with 0 <= i < n, e.g. 0/3');
  return { index, count };
}

/** Cloud Run jobs set CLOUD_RUN_TASK_INDEX/COUNT; a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX (the count is ours to give). */
function shardFromEnvironment(env: NodeJS.ProcessEnv): Shard | undefined {
  const [index, count, from] = env.CLOUD_RUN_TASK_INDEX !== undefined
    ? [env.CLOUD_RUN_TASK_INDEX, env.CLOUD_RUN_TASK_COUNT, 'CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT']
    : env.JOB_COMPLETION_INDEX !== undefined ? [env.JOB_COMPLETION_INDEX, env.ETL_SHARD_COUNT, 'JOB_COMPLETION_INDEX/ETL_SHARD_COUNT'] : [];
  if (index === undefined) return undefined;
  try {
    const shard = parseShard(`${index}/${count}`);
    // One task is no split at all.
    return shard.count > 1 ? shard : undefined;
  } catch {
    throw new ConfigError(`${from} = ${index}/${count ?? '(unset)'} is not a shard`, { hint: 'set both, with 0 <= index < count (or pass --shard i/n)' });
  }
}

function requestFrom(name: string, source: string, dataset: string, flags: PipelineFlags, stepRetries: PipelineRequest['stepRetries'], stepTimeouts: PipelineRequest['stepTimeouts'], fromCommandLine: (attribute: string) => boolean): PipelineRequest {
  // Durations from a config file did not pass the flags' parser: a timer past 2^31-1 ms would fire at once.
  checkTimerSeconds(flags.timeout, '--timeout (options.timeout)');
  checkTimerSeconds(flags.downloadTimeout, '--download-timeout (options.download_timeout)');
  for (const [step, seconds] of Object.entries(stepTimeouts)) checkTimerSeconds(seconds, `--step-timeout (steps.${step}.timeout)`);
  // The dataset names the raw and processed folders: an identifier, and one the source has (a declaration file names its own).
  if (typeof flags.datasetFile === 'string') checkIdentifier(dataset, 'dataset');
  else checkDataset(findSource(source), dataset);
  const shard = flags.shard ?? shardFromEnvironment(process.env);
  const shardsBy = findSource(source).shardsBy;
  if (shard && !shardsBy) throw new ConfigError(`${source} cannot be sharded: it has no work units to split between machines`, { hint: 'run it on one machine, without --shard (and without CLOUD_RUN_TASK_INDEX / JOB_COMPLETION_INDEX)' });
  if (shard && !flags.partitionBy) throw new ConfigError('--shard needs --partition-by: shards write disjoint partitions of one dataset', { hint: 'e.g. --partition-by edition' });
  if (shard && Array.isArray(flags.input) && flags.input.length > 0) throw new ConfigError('--shard does not go with --input: shards split what the source lists');
  const format = parseFormat(flags.format);
  const mergeKey = parseMergeKey(flags.mergeKey, format);
  if (format === 'delta' && flags.bucket && isPostgresUrl(flags.bucket)) throw new ConfigError('--format delta writes a Delta table to a bucket or a folder, not to Postgres', { hint: 'drop --format delta, or give --bucket gs://…, s3://… or ./dir' });
  // With a bucket, transform writes one plain file and load commits it to <bucket>/<dataset>/; without, transform commits to <out>.
  const deltaLoad = format === 'delta' && flags.bucket !== undefined;
  return {
    name,
    source: {
      source,
      dataset,
      dataDir: flags.dataDir,
      baseUrl: flags.baseUrl,
      concurrency: flags.concurrency,
      rateLimit: flags.rateLimit,
      shard,
      flags: ownFlags(source, flags, fromCommandLine),
    },
    http: { timeoutSeconds: flags.timeout, downloadTimeoutSeconds: flags.downloadTimeout, retries: flags.retries },
    transform: deltaLoad
      ? { out: flags.out, skipBad: flags.skipBad }
      : { out: flags.out, skipBad: flags.skipBad, partitionBy: flags.partitionBy, ...(format === 'delta' ? { format, mergeKey } : {}) },
    load: flags.bucket
      ? { bucket: flags.bucket, keyTemplate: flags.key, sink: { endpoint: flags.endpoint, region: flags.region }, concurrency: flags.concurrency, dryRun: flags.dryRun, force: flags.force, ...tableFlags(flags), ...(deltaLoad ? { delta: { partitionBy: flags.partitionBy, mergeKey } } : {}) }
      : undefined,
    noCache: !flags.cache,
    stepRetries,
    stepTimeouts,
    alert: flags.alertUrl ? { url: flags.alertUrl, onSuccess: flags.alertOnSuccess } : undefined,
  };
}

/** --table, --mode and the merge --key of a Postgres destination (from the Postgres source, --table names both tables). */
function tableFlags(flags: PipelineFlags): Pick<PipelineRequest['load'] & object, 'table' | 'mode' | 'mergeKey'> {
  if (!flags.bucket || !isPostgresUrl(flags.bucket)) return {};
  return { table: flags.table, mode: flags.mode, mergeKey: mergeKeyFlag(flags.key) };
}

/** Load flags that a source also takes (--table): given for the destination, they are no foreign source flag. --to here is a range's end only. */
const LOAD_ATTRIBUTES = new Set(loadOptions().map((option) => option.attributeName()).filter((attribute) => attribute !== 'to'));

/**
 * The flags of the pipeline's own source, as its schema will read them. A flag that only other sources
 * declare, given explicitly, is a usage error naming its owner.
 */
function ownFlags(sourceName: string, flags: PipelineFlags, given: (attribute: string) => boolean): Record<string, unknown> {
  const source = findSource(sourceName);
  const own = new Map([...source.extractOptions.flags, ...source.transformOptions.flags].map((flag) => [new Option(flag.flags).attributeName(), flag.flags]));
  for (const other of sources) {
    for (const flag of [...other.extractOptions.flags, ...other.transformOptions.flags]) {
      const attribute = new Option(flag.flags).attributeName();
      if (own.has(attribute) || LOAD_ATTRIBUTES.has(attribute) || !given(attribute)) continue;
      const long = new Option(flag.flags).long!;
      throw new ConfigError(`unknown option '${long}' for source ${source.name} (it belongs to ${sourceFlagOwners(long).join(', ')})`, { hint: `run etl extract ${source.name} --help for usage` });
    }
  }
  return Object.fromEntries([...own.keys()].filter((attribute) => flags[attribute] !== undefined).map((attribute) => [attribute, flags[attribute]]));
}
