import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPipelineOptions, pipelineRequest, type PipelineFlags } from '../../src/commands/pipeline-flags.js';
import { ConfigError } from '../../src/core/errors.js';
import type { PipelineRequest } from '../../src/run/pipeline.js';
import { withEnv } from '../helpers/env.js';

/**
 * The request `etl run` and `etl plan` build from their flags and a config file (src/commands/pipeline-flags.ts),
 * in-process: the flags as commander parses them, then `pipelineRequest`, and the request it gives compared whole.
 * What the pipeline then does with a request is test/run/pipeline-in-process.test.ts's business.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pipeline-request-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

const NO_SHARD_ENV = { CLOUD_RUN_TASK_INDEX: undefined, CLOUD_RUN_TASK_COUNT: undefined, JOB_COMPLETION_INDEX: undefined, ETL_SHARD_COUNT: undefined, ETL_DATA_DIR: undefined, ETL_ALERT_URL: undefined };

/** `etl run <args>` as far as the request: resolves to it, or rejects with what was refused (commander's or ours). */
async function requestOf(args: string[], env: Record<string, string | undefined> = {}): Promise<PipelineRequest> {
  return withEnv({ ...NO_SHARD_ENV, ...env }, async () => {
    let request: PipelineRequest | undefined;
    const command = addPipelineOptions(new Command('run'))
      .exitOverride()
      .configureOutput({ outputError: () => {}, writeOut: () => {} })
      .action(async (source: string | undefined, dataset: string | undefined, flags: PipelineFlags, self: Command) => {
        request = await pipelineRequest(source, dataset, flags, self);
      });
    await command.parseAsync(args, { from: 'user' });
    return request!;
  });
}

async function refusal(args: string[], env: Record<string, string | undefined> = {}): Promise<{ message: string; hint?: string; config: boolean }> {
  const error = await requestOf(args, env).then(
    () => expect.fail(`etl run ${args.join(' ')} was accepted`),
    (e: unknown) => e as Error & { hint?: string },
  );
  return { message: error.message, hint: error.hint, config: error instanceof ConfigError };
}

const defaults = {
  http: { timeoutSeconds: 30, downloadTimeoutSeconds: 300, retries: 4 },
  transform: { out: undefined, skipBad: false, partitionBy: undefined },
  load: undefined,
  noCache: false,
  stepRetries: { extract: 0, transform: 0, load: 0 },
  stepTimeouts: { extract: undefined, transform: undefined, load: undefined },
  alert: undefined,
};

describe('etl run <source>: the request from flags', () => {
  it('the defaults: the source\'s default dataset, no load, cache on, no retries, no alert', async () => {
    expect(await requestOf(['ons'])).toEqual({
      name: 'ons/monthly-deaths',
      source: { source: 'ons', dataset: 'monthly-deaths', dataDir: 'data', baseUrl: undefined, concurrency: 4, rateLimit: 5, shard: undefined, flags: {} },
      ...defaults,
    });
  });

  it('every flag given lands in its place; only the source\'s own flags are passed to it', async () => {
    const request = await requestOf([
      'ons', 'weekly-deaths', '--data-dir', 'd', '--concurrency', '2', '--timeout', '5', '--download-timeout', '9', '--retries', '1', '--rate-limit', '0.5',
      '--out', 'o.parquet', '--skip-bad', '--partition-by', 'edition', '--from', '2019', '--bucket', './lake/', '--key', 'x/{name}', '--endpoint', 'http://127.0.0.1:9',
      '--region', 'eu-west-2', '--dry-run', '--force', '--no-cache', '--step-retries', '2', '--step-timeout', '60', '--alert-url', 'http://127.0.0.1:9/hook', '--alert-on-success',
    ]);
    expect(request).toEqual({
      name: 'ons/weekly-deaths',
      source: { source: 'ons', dataset: 'weekly-deaths', dataDir: 'd', baseUrl: undefined, concurrency: 2, rateLimit: 0.5, shard: undefined, flags: { from: '2019' } },
      http: { timeoutSeconds: 5, downloadTimeoutSeconds: 9, retries: 1 },
      transform: { out: 'o.parquet', skipBad: true, partitionBy: 'edition' },
      load: { bucket: './lake/', keyTemplate: 'x/{name}', sink: { endpoint: 'http://127.0.0.1:9', region: 'eu-west-2' }, concurrency: 2, dryRun: true, force: true },
      noCache: true,
      stepRetries: { extract: 2, transform: 2, load: 2 },
      stepTimeouts: { extract: 60, transform: 60, load: 60 },
      alert: { url: 'http://127.0.0.1:9/hook', onSuccess: true },
    });
  });

  it('--to is the destination, the end of a range, or both; a Postgres destination takes --table, --mode and the merge --key', async () => {
    const destination = await requestOf(['ons', '--to', './lake/']);
    expect(destination.load?.bucket).toBe('./lake/');
    expect(destination.source.flags).toEqual({});
    const rangeEnd = await requestOf(['ons', '--to', '2020']);
    expect(rangeEnd.load).toBeUndefined();
    expect(rangeEnd.source.flags).toEqual({ to: '2020' });
    const both = await requestOf(['ons', '--from', '2019', '--to', '2020', '--to', './lake/']);
    expect(both.load?.bucket).toBe('./lake/');
    expect(both.source.flags).toEqual({ from: '2019', to: '2020' });
    const postgres = await requestOf(['ons', '--to', 'postgres://etl@127.0.0.1/lake', '--table', 'ons.deaths', '--mode', 'merge', '--key', 'edition,period']);
    expect(postgres.load).toEqual({
      bucket: 'postgres://etl@127.0.0.1/lake', keyTemplate: 'edition,period', sink: { endpoint: undefined, region: undefined }, concurrency: 4, dryRun: false, force: false,
      table: 'ons.deaths', mode: 'merge', mergeKey: 'edition,period',
    });
    // --table on a bucket is not a table load.
    expect(Object.keys((await requestOf(['ons', '--bucket', './lake/', '--table', 'ons.deaths'])).load!)).not.toContain('table');
  });

  it('a source whose pipelines are per table names the table in the pipeline', async () => {
    const request = await requestOf(['postgres', '--table', 'public.orders', '--base-url', 'postgres://etl@127.0.0.1/shop']);
    expect(request.name).toMatch(/^postgres\/[a-z-]+\/public\.orders$/);
    expect(request.name.split('/')[1]).toBe(request.source.dataset);
  });

  it('refuses what cannot run: no source, --param without --config, a dataset the source lacks, another source\'s flag', async () => {
    expect(await refusal([])).toEqual({ message: 'name a source (e.g. `etl run ons`) or give --config FILE', hint: 'etl run --help lists both ways', config: true });
    expect(await refusal(['ons', '--param', 'a=1'])).toMatchObject({ message: '--param needs --config: parameters are declared by a pipeline in a config file', config: true });
    expect(await refusal(['ons', 'planets'])).toMatchObject({ message: 'ons has no dataset "planets"', config: true });
    expect(await refusal(['ons', '--city', '3477'])).toEqual({ message: "unknown option '--city' for source ons (it belongs to etl extract climatempo)", hint: 'run etl extract ons --help for usage', config: true });
    // A load flag a source also declares is the destination's, not a foreign flag.
    await expect(requestOf(['ons', '--to', 'postgres://etl@127.0.0.1/lake', '--table', 'ons.deaths'])).resolves.toBeDefined();
  });

  it('--dataset-file: the dataset is the declaration\'s name, checked as an identifier only', async () => {
    const request = await requestOf(['ons', 'my-deaths', '--dataset-file', 'my.json']);
    expect(request.source.dataset).toBe('my-deaths');
    expect(request.source.flags).toEqual({ datasetFile: 'my.json' });
    expect(await refusal(['ons', '../up', '--dataset-file', 'my.json'])).toMatchObject({ config: true, message: expect.stringContaining('../up') });
  });
});

describe('--shard and the shard from the environment', () => {
  it('--shard i/n needs a source with work units, --partition-by, and no --input', async () => {
    expect((await requestOf(['ons', '--shard', '1/3', '--partition-by', 'edition'])).source.shard).toEqual({ index: 1, count: 3 });
    expect(await refusal(['random-person', '--shard', '0/2', '--partition-by', 'gender'])).toEqual({
      message: 'random-person cannot be sharded: it has no work units to split between machines',
      hint: 'run it on one machine, without --shard (and without CLOUD_RUN_TASK_INDEX / JOB_COMPLETION_INDEX)',
      config: true,
    });
    expect(await refusal(['ons', '--shard', '0/2'])).toEqual({ message: '--shard needs --partition-by: shards write disjoint partitions of one dataset', hint: 'e.g. --partition-by edition', config: true });
    expect(await refusal(['ons', '--shard', '0/2', '--partition-by', 'edition', '--input', 'workbooks/'])).toMatchObject({ message: '--shard does not go with --input: shards split what the source lists', config: true });
    // --input alone, or an empty list, is no conflict.
    await expect(requestOf(['ons', '--input', 'workbooks/'])).resolves.toBeDefined();
  });

  it.each(['3/3', '1/0', '-1/2', 'a/b', '1/2/3', '1', ' 1/2', '1/2 '])('--shard %s is refused', async (value) => {
    expect((await refusal(['ons', '--shard', value, '--partition-by', 'edition'])).message).toMatch(/expected i\/n with 0 <= i < n, e\.g\. 0\/3/);
  });

  it('Cloud Run\'s task index and count; a Kubernetes Indexed Job\'s index with ETL_SHARD_COUNT; one task is no split', async () => {
    const args = ['ons', '--partition-by', 'edition'];
    expect((await requestOf(args, { CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '3' })).source.shard).toEqual({ index: 2, count: 3 });
    expect((await requestOf(args, { JOB_COMPLETION_INDEX: '1', ETL_SHARD_COUNT: '4' })).source.shard).toEqual({ index: 1, count: 4 });
    // Cloud Run's variables win over the Job's.
    expect((await requestOf(args, { CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: '2', JOB_COMPLETION_INDEX: '1', ETL_SHARD_COUNT: '4' })).source.shard).toEqual({ index: 0, count: 2 });
    expect((await requestOf(['ons'], { CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: '1' })).source.shard).toBeUndefined();
    // --shard wins over the environment.
    expect((await requestOf([...args, '--shard', '0/5'], { CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '3' })).source.shard).toEqual({ index: 0, count: 5 });
    expect(await refusal(args, { JOB_COMPLETION_INDEX: '2' })).toEqual({
      message: 'JOB_COMPLETION_INDEX/ETL_SHARD_COUNT = 2/(unset) is not a shard',
      hint: 'set both, with 0 <= index < count (or pass --shard i/n)',
      config: true,
    });
    expect((await refusal(args, { CLOUD_RUN_TASK_INDEX: '3', CLOUD_RUN_TASK_COUNT: '3' })).message).toBe('CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT = 3/3 is not a shard');
  });
});

describe('etl run --config: the request from a pipeline of a config file', () => {
  let count = 0;
  async function config(text: string): Promise<string> {
    const file = path.join(work, `etl-${++count}.yaml`);
    await writeFile(file, text);
    return file;
  }

  it('the file\'s options, destination, data dir, steps and alert; what the command line gives wins', async () => {
    const file = await config(`
pipelines:
  weekly:
    source: ons
    dataset: weekly-deaths
    data_dir: from-file
    params:
      first: { type: integer, default: 2015 }
    options:
      from: \${first}
      concurrency: 3
      out: out-\${first}.parquet
    destination:
      bucket: ./lake/
      region: eu-west-1
    steps:
      extract: { retries: 2, timeout: 100 }
      load: { retries: 1 }
    alert:
      url: http://127.0.0.1:9/hook
`);
    const fromFile = await requestOf(['--config', file]);
    expect(fromFile).toEqual({
      name: 'weekly',
      source: { source: 'ons', dataset: 'weekly-deaths', dataDir: 'from-file', baseUrl: undefined, concurrency: 3, rateLimit: 5, shard: undefined, flags: { from: '2015' } },
      http: { timeoutSeconds: 30, downloadTimeoutSeconds: 300, retries: 4 },
      transform: { out: 'out-2015.parquet', skipBad: false, partitionBy: undefined },
      load: { bucket: './lake/', keyTemplate: '{name}', sink: { endpoint: undefined, region: 'eu-west-1' }, concurrency: 3, dryRun: false, force: false },
      noCache: false,
      stepRetries: { extract: 2, transform: 0, load: 1 },
      stepTimeouts: { extract: 100, transform: undefined, load: undefined },
      alert: { url: 'http://127.0.0.1:9/hook', onSuccess: false },
    });
    const overridden = await requestOf(['weekly', '--config', file, '--param', 'first=2019', '--concurrency', '7', '--data-dir', 'cli', '--step-retries', '4', '--step-timeout', '9', '--alert-url', 'http://127.0.0.1:9/other', '--alert-on-success']);
    expect(overridden.source).toMatchObject({ dataDir: 'cli', concurrency: 7, flags: { from: '2019' } });
    expect(overridden.transform.out).toBe('out-2019.parquet');
    expect(overridden.stepRetries).toEqual({ extract: 4, transform: 4, load: 4 });
    expect(overridden.stepTimeouts).toEqual({ extract: 9, transform: 9, load: 9 });
    expect(overridden.alert).toEqual({ url: 'http://127.0.0.1:9/other', onSuccess: true });
    // --alert-on-success with the file's alert URL.
    expect((await requestOf(['--config', file, '--alert-on-success'])).alert).toEqual({ url: 'http://127.0.0.1:9/hook', onSuccess: true });
  });

  it('several pipelines: one must be named, and it must be there; with --config, one name only', async () => {
    const file = await config('pipelines:\n  monthly: { source: ons }\n  weekly: { source: ons, dataset: weekly-deaths }\n');
    expect((await requestOf(['weekly', '--config', file])).name).toBe('weekly');
    expect((await requestOf(['monthly', '--config', file])).source.dataset).toBe('monthly-deaths');
    expect(await refusal(['--config', file])).toEqual({ message: `${file} declares several pipelines: monthly, weekly`, hint: `name one, e.g. \`etl run --config ${file} monthly\``, config: true });
    expect(await refusal(['daily', '--config', file])).toEqual({ message: `${file} declares no pipeline "daily"`, hint: 'choose one of: monthly, weekly', config: true });
    expect(await refusal(['monthly', 'weekly', '--config', file])).toMatchObject({ message: 'with --config, name one pipeline (got "monthly" and "weekly")', config: true });
  });

  it('a value from the file that a check refuses is named by its field in the file; a flag given is named as a flag', async () => {
    const quoted = (file: string): string => file.replace(/[.]/g, '\\.');
    const timer = await refusal(['--config', await config('pipelines:\n  weekly:\n    source: ons\n    options: { timeout: 99999999 }\n')]);
    expect(timer.message).toMatch(/^--timeout \(options\.timeout\) 99999999: expected at most 2147483 seconds/);
    expect(timer.hint).toBe('leave it out for no limit, or give a shorter time');
    const download = await refusal(['--config', await config('pipelines:\n  weekly:\n    source: ons\n    options: { download_timeout: 99999999 }\n')]);
    expect(download.message).toMatch(/^--download-timeout \(options\.download_timeout\) 99999999: expected at most/);
    const step = await refusal(['--config', await config('pipelines:\n  weekly:\n    source: ons\n    steps:\n      transform: { timeout: 99999999 }\n')]);
    expect(step.message).toMatch(/^--step-timeout \(steps\.transform\.timeout\) 99999999: expected at most/);

    const baseUrl = await config('pipelines:\n  weekly:\n    source: ons\n    options: { base_url: "ftp://example.org/" }\n');
    expect((await refusal(['--config', baseUrl])).message).toBe(`${baseUrl}: pipelines.weekly.options.base_url: --base-url "ftp://example.org/" is not an absolute http:// or https:// URL`);
    const bucket = await config('pipelines:\n  weekly:\n    source: ons\n    destination: { bucket: "my-bucket/ons" }\n');
    const fromFile = await refusal(['--config', bucket]);
    expect(fromFile.message).toMatch(new RegExp(`^${quoted(bucket)}: pipelines\\.weekly\\.destination\\.bucket: --bucket my-bucket/ons`));
    expect(fromFile.hint).toBeDefined();
    const fromFlag = await refusal(['--config', bucket, '--bucket', 'other/bucket']);
    expect(fromFlag.message).toMatch(new RegExp(`^${quoted(bucket)}: pipelines\\.weekly: --bucket other/bucket`));
  });

  it('a list flag from the file stays a list; a file\'s transform retries and timeout are the transform step\'s', async () => {
    const file = await config('pipelines:\n  forecast:\n    source: climatempo\n    dataset: forecast-daily\n    options: { city: ["3477", "5959"] }\n    steps:\n      transform: { retries: 3, timeout: 40 }\n');
    const request = await requestOf(['--config', file]);
    expect(request.source.flags).toEqual({ city: ['3477', '5959'] });
    expect(request.stepRetries).toEqual({ extract: 0, transform: 3, load: 0 });
    expect(request.stepTimeouts).toEqual({ extract: undefined, transform: 40, load: undefined });
  });

  it('a source flag from the file is given to the source as text, as from the command line', async () => {
    const file = await config('pipelines:\n  monthly:\n    source: ons\n    options: { from: 2019, to: 2020, concurrency: 2 }\n');
    const request = await requestOf(['--config', file]);
    expect(request.source.flags).toEqual({ from: '2019', to: '2020' });
    expect(request.source.concurrency).toBe(2);
  });
});
